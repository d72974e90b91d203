//! Phone number normalisation: a campaign recipient as written by a user → an E.164 [`Phone`].
//!
//! libphonenumber (the `rlibphonenumber` port, see `docs/phone.md`) is the source of truth
//! for what a valid number is; this module only decides which readings of the input to try,
//! in this order:
//!
//! 1. A leading `+` or `00`: international (`00` is stripped and read as `+`; if that is
//!    not valid, libphonenumber reads the whole input with the default region, which knows
//!    the region's own international prefixes, e.g. Brazil's `0021` carrier codes).
//! 2. Digits only (spaces, `-`, `.`, `(`, `)` stripped) that start with the default country
//!    code and are valid read as international: `5531999990001`, the usual MSISDN form.
//! 3. Else a national number of the default country: `(31) 99999-0001`, `031 99999 0001`.
//! 4. Else international with an implicit `+`: `4915123456789` with default `55`.
//! 5. Else invalid: [`InvalidPhone`] says why (the caller keeps the text as given).
//!
//! Brazil's 9th digit: a Brazilian candidate (from `+55` or national) whose national number
//! is a 2-digit area code and 8 digits starting with 6–9 gets a `9` after the area code
//! before validation (8-digit numbers starting with 2–5 are landlines and stay).
//!
//! Fast path: for Brazilian candidates whose national digits libphonenumber would keep as
//! they are (no leading `0`, `90` or `55`, i.e. nothing its parser strips as a national
//! prefix, carrier code, international prefix or country code), the number is built from the
//! digits directly and only validated by libphonenumber, skipping its text parser (about
//! two thirds of the cost). A test checks that both paths agree.

use std::fmt;

use rlibphonenumber::{enums::Region, NumberLengthType, ParseError, PhoneNumber, ValidationError, PHONE_NUMBER_UTIL};

use super::{Phone, MAX_E164_DIGITS};

/// Brazil's country calling code: the 9th-digit rule and the fast path apply to it.
const BRAZIL: u16 = 55;
/// Most digits an input may hold: 15 (E.164) plus a 2-digit international prefix and a
/// 2-digit carrier code.
const MAX_INPUT_DIGITS: usize = 19;

/// Reasons an input is not a phone number ([`InvalidPhone::reason`]).
pub mod reason {
    /// Nothing but whitespace.
    pub const EMPTY: &str = "empty";
    /// Characters other than digits, a leading `+` and the separators ` -.()`.
    pub const NOT_A_PHONE_NUMBER: &str = "not a phone number";
    /// Too few digits for the country.
    pub const TOO_SHORT: &str = "too short";
    /// Too many digits for the country (or for any phone number).
    pub const TOO_LONG: &str = "too long";
    /// A number of digits the country does not use, between its shortest and longest.
    pub const INVALID_LENGTH: &str = "invalid length for the country";
    /// A local number: the area code is missing.
    pub const MISSING_AREA_CODE: &str = "missing area code";
    /// The leading digits are no country calling code.
    pub const UNKNOWN_COUNTRY_CODE: &str = "unknown country code";
    /// The length fits but the number is in no range the country's numbering plan assigns.
    pub const NOT_A_VALID_NUMBER: &str = "not a valid number for its country";
}

/// Why an input is not a valid phone number: one of the [`reason`] constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidPhone {
    pub reason: &'static str,
}

impl fmt::Display for InvalidPhone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid phone number: {}", self.reason)
    }
}

impl std::error::Error for InvalidPhone {}

const fn invalid(reason: &'static str) -> InvalidPhone {
    InvalidPhone { reason }
}

/// Turns recipients into [`Phone`]s for one default country code. Cheap to share
/// (`Send + Sync`); libphonenumber's metadata is loaded once per process.
#[derive(Clone, Debug)]
pub struct PhoneNormalizer {
    country_code: u16,
    /// `country_code` as text, to test whether digits start with it.
    country_code_digits: String,
    region: Region,
    fast_path: bool,
}

impl PhoneNormalizer {
    /// A normaliser whose default country is the one of `default_country_code` (`"55"` →
    /// Brazil; a shared code such as `"1"` → its main country, the US). An unknown or
    /// non-geographic code (`"800"`) is an error naming it.
    pub fn new(default_country_code: &str) -> Result<Self, String> {
        let text = default_country_code.trim();
        let text = text.strip_prefix('+').unwrap_or(text);
        let unknown = || format!("unknown default country code \"{default_country_code}\"");
        if text.is_empty() || text.len() > 3 || text.starts_with('0') || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(unknown());
        }
        let country_code: u16 = text.parse().map_err(|_| unknown())?;
        let region = PHONE_NUMBER_UTIL
            .get_region_for_country_code(i32::from(country_code))
            .filter(|region| *region != Region::World)
            .ok_or_else(unknown)?;
        Ok(Self { country_code, country_code_digits: country_code.to_string(), region, fast_path: true })
    }

    /// The default country calling code.
    pub fn default_country_code(&self) -> u16 {
        self.country_code
    }

    /// The default country's region code: `"BR"`.
    pub fn region(&self) -> String {
        self.region.to_string()
    }

    /// Turns the Brazilian fast path on or off (both give the same results; for benchmarks).
    #[doc(hidden)]
    pub fn with_fast_path(mut self, enabled: bool) -> Self {
        self.fast_path = enabled;
        self
    }

    /// The E.164 number `input` stands for, in the order of the module documentation.
    pub fn normalize(&self, input: &str) -> Result<Phone, InvalidPhone> {
        let (explicit_plus, digits) = clean(input)?;
        let digits = digits.as_str();
        if explicit_plus {
            return self.international(digits).ok_or_else(|| reason_for(Plus::new(digits).as_ref(), None));
        }
        if let Some(rest) = digits.strip_prefix("00") {
            return self
                .international(rest)
                .or_else(|| self.national(digits))
                .ok_or_else(|| reason_for(Plus::new(rest).as_ref(), None));
        }
        let has_country_code = digits.starts_with(&self.country_code_digits);
        if has_country_code {
            if let Some(phone) = self.international(digits) {
                return Ok(phone);
            }
        }
        if let Some(phone) = self.national(digits) {
            return Ok(phone);
        }
        if !has_country_code {
            if let Some(phone) = self.international(digits) {
                return Ok(phone);
            }
        }
        Err(reason_for(digits, Some(self.region)))
    }

    /// `digits` read as `+digits`.
    fn international(&self, digits: &str) -> Option<Phone> {
        if self.fast_path {
            if let Some(national) = digits.strip_prefix("55").and_then(brazil_direct) {
                return validate(new_number(BRAZIL, national));
            }
        }
        let number = PHONE_NUMBER_UTIL.parse(Plus::new(digits), None).ok()?;
        validate(number)
    }

    /// `digits` read as a number of the default country.
    fn national(&self, digits: &str) -> Option<Phone> {
        if self.fast_path && self.country_code == BRAZIL && !digits.starts_with("55") {
            if let Some(national) = brazil_direct(digits) {
                return validate(new_number(BRAZIL, national));
            }
        }
        let number = PHONE_NUMBER_UTIL.parse(digits, Some(self.region)).ok()?;
        validate(number)
    }
}

/// The input's digits, at most [`MAX_INPUT_DIGITS`].
struct Digits {
    buf: [u8; MAX_INPUT_DIGITS],
    len: usize,
}

impl Digits {
    fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

/// `+` followed by digits, on the stack.
struct Plus {
    buf: [u8; MAX_INPUT_DIGITS + 1],
    len: usize,
}

impl Plus {
    fn new(digits: &str) -> Self {
        let mut buf = [b'+'; MAX_INPUT_DIGITS + 1];
        let len = digits.len().min(MAX_INPUT_DIGITS);
        buf[1..=len].copy_from_slice(&digits.as_bytes()[..len]);
        Self { buf, len: len + 1 }
    }
}

impl AsRef<str> for Plus {
    fn as_ref(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

/// Whether the input had a leading `+`, and its digits once separators are dropped.
fn clean(input: &str) -> Result<(bool, Digits), InvalidPhone> {
    let text = input.trim();
    if text.is_empty() {
        return Err(invalid(reason::EMPTY));
    }
    let (explicit_plus, body) = match text.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let mut digits = Digits { buf: [0; MAX_INPUT_DIGITS], len: 0 };
    for c in body.chars() {
        match c {
            '0'..='9' => {
                if digits.len == MAX_INPUT_DIGITS {
                    return Err(invalid(reason::TOO_LONG));
                }
                digits.buf[digits.len] = c as u8;
                digits.len += 1;
            }
            '-' | '.' | '(' | ')' => {}
            c if c.is_whitespace() => {}
            _ => return Err(invalid(reason::NOT_A_PHONE_NUMBER)),
        }
    }
    if digits.len == 0 {
        return Err(invalid(reason::NOT_A_PHONE_NUMBER));
    }
    Ok((explicit_plus, digits))
}

/// Brazilian national digits that libphonenumber's parser would keep as they are, as a
/// number: not starting with `0` (national, carrier and international prefixes) or `90`
/// (collect-call prefix), 2 to 11 digits (Brazil's longest). `None`: use the parser.
fn brazil_direct(national: &str) -> Option<u64> {
    let b = national.as_bytes();
    if !(2..=11).contains(&b.len()) || b[0] == b'0' || b.starts_with(b"90") {
        return None;
    }
    national.parse().ok()
}

fn new_number(country_code: u16, national_number: u64) -> PhoneNumber {
    PhoneNumber { country_code: i32::from(country_code), national_number, ..Default::default() }
}

/// Brazil's 9th digit: area code + 8 digits starting with 6–9 → area code + 9 + 8 digits.
fn brazil_ninth_digit(national: u64) -> u64 {
    if (1_000_000_000..10_000_000_000).contains(&national) && (national / 10_000_000) % 10 >= 6 {
        let (area, subscriber) = (national / 100_000_000, national % 100_000_000);
        area * 1_000_000_000 + 900_000_000 + subscriber
    } else {
        national
    }
}

/// Leading zeros libphonenumber keeps in front of the national number (Italy and a few others).
fn leading_zeros(number: &PhoneNumber) -> u32 {
    if number.italian_leading_zero == Some(true) {
        number.number_of_leading_zeros.unwrap_or(1).max(1) as u32
    } else {
        0
    }
}

/// The [`Phone`] of `number` (9th digit applied) if libphonenumber says it is valid.
fn validate(mut number: PhoneNumber) -> Option<Phone> {
    let country_code = u16::try_from(number.country_code).ok()?;
    let zeros = leading_zeros(&number);
    if country_code == BRAZIL && zeros == 0 {
        number.national_number = brazil_ninth_digit(number.national_number);
    }
    if !PHONE_NUMBER_UTIL.is_valid_number(&number) {
        return None;
    }
    let national = number.national_number;
    let national_len = zeros + national.checked_ilog10().map_or(1, |l| l + 1);
    let code_len = country_code.ilog10() + 1;
    if code_len + national_len > MAX_E164_DIGITS {
        return None;
    }
    Some(Phone(u64::from(country_code) * 10u64.pow(national_len) + national))
}

/// Why `text` (read with `region`, or international without) is not a valid number.
fn reason_for(text: &str, region: Option<Region>) -> InvalidPhone {
    let mut number = match PHONE_NUMBER_UTIL.parse(text, region) {
        Ok(number) => number,
        Err(ParseError::InvalidCountryCode) => return invalid(reason::UNKNOWN_COUNTRY_CODE),
        Err(ParseError::TooShortAfterIdd | ParseError::TooShortNsn) => return invalid(reason::TOO_SHORT),
        Err(ParseError::TooLongNsn) => return invalid(reason::TOO_LONG),
        Err(ParseError::NotANumber(_)) => return invalid(reason::NOT_A_PHONE_NUMBER),
    };
    if number.country_code == i32::from(BRAZIL) && leading_zeros(&number) == 0 {
        number.national_number = brazil_ninth_digit(number.national_number);
    }
    invalid(match PHONE_NUMBER_UTIL.is_possible_number_with_reason(&number) {
        Err(ValidationError::TooShort) => reason::TOO_SHORT,
        Err(ValidationError::TooLong) => reason::TOO_LONG,
        Err(ValidationError::InvalidLength) => reason::INVALID_LENGTH,
        Err(ValidationError::InvalidCountryCode) => reason::UNKNOWN_COUNTRY_CODE,
        Ok(NumberLengthType::IsPossibleLocalOnly) => reason::MISSING_AREA_CODE,
        Ok(NumberLengthType::IsPossible) => reason::NOT_A_VALID_NUMBER,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn br() -> PhoneNormalizer {
        PhoneNormalizer::new("55").unwrap()
    }

    /// `input` normalised with `default_country_code`, as `+digits`, or the reason.
    fn norm(default_country_code: &str, input: &str) -> Result<String, &'static str> {
        PhoneNormalizer::new(default_country_code)
            .unwrap()
            .normalize(input)
            .map(|phone| phone.to_string())
            .map_err(|e| e.reason)
    }

    fn assert_all(default_country_code: &str, inputs: &[&str], expected: &str) {
        for input in inputs {
            assert_eq!(
                norm(default_country_code, input),
                Ok(expected.to_string()),
                "input {input:?} with default country code {default_country_code}"
            );
        }
    }

    #[test]
    fn leading_plus_or_double_zero_is_international() {
        assert_all(
            "55",
            &[
                "+5531999990001",
                "+55 31 99999-0001",
                "+55 (31) 99999.0001",
                " +55 31 99999 0001 ",
                "0055 31 99999 0001",
                "00 55 (31) 99999-0001",
            ],
            "+5531999990001",
        );
    }

    #[test]
    fn digits_starting_with_the_default_country_code_are_msisdn() {
        assert_all("55", &["5531999990001", "55 31 99999 0001"], "+5531999990001");
    }

    #[test]
    fn digits_without_country_code_are_national_numbers_of_the_default_country() {
        assert_all(
            "55",
            &[
                "31999990001",
                "(31) 99999-0001",
                "31 9 9999 0001",
                "031 99999 0001",
                "0 21 31 99999 0001", // trunk 0 and carrier code 21
            ],
            "+5531999990001",
        );
    }

    #[test]
    fn national_numbers_of_area_code_55_are_not_read_as_country_code() {
        assert_all("55", &["(55) 99999-0001", "55999990001"], "+5555999990001");
        assert_all("55", &["(55) 9999-0001", "5599990001"], "+5555999990001");
        assert_all("55", &["5555999990001"], "+5555999990001");
    }

    #[test]
    fn br_8_digit_mobiles_get_the_ninth_digit() {
        assert_all(
            "55",
            &[
                "3199990001",
                "(31) 9999-0001",
                "553199990001",
                "+553199990001",
                "+55 (31) 9999-0001",
                "0055 31 9999 0001",
            ],
            "+5531999990001",
        );
        assert_all("55", &["1186543210", "+55 11 8654-3210"], "+5511986543210");
        assert_all("55", &["1176543210", "+55 11 7654-3210"], "+5511976543210");
        assert_all("55", &["2166543210", "+55 21 6654-3210"], "+5521966543210");
    }

    #[test]
    fn br_landlines_keep_8_digits() {
        assert_all("55", &["3132345678", "(31) 3234-5678", "+55 31 3234-5678"], "+553132345678");
        assert_all("55", &["1134567890", "551134567890"], "+551134567890");
        assert_all("55", &["(21) 2345-6789"], "+552123456789");
        assert_all("55", &["(51) 5432-1000", "555154321000"], "+555154321000");
    }

    #[test]
    fn br_9_digit_mobiles_are_untouched() {
        assert_all("55", &["+5511987654321", "11987654321", "(11) 98765-4321"], "+5511987654321");
        assert_all("55", &["5561991234567"], "+5561991234567");
    }

    #[test]
    fn simulator_test_numbers_ending_0000_to_0004_are_valid() {
        let normalizer = br();
        for last in 0..=4 {
            for input in [format!("+553199999000{last}"), format!("553499999000{last}")] {
                let phone = normalizer.normalize(&input).unwrap();
                assert_eq!(phone.to_string(), if input.starts_with('+') { input.clone() } else { format!("+{input}") });
                assert_eq!(phone.national_number() % 10_000, last);
            }
        }
    }

    #[test]
    fn invalid_inputs_say_why() {
        assert_eq!(norm("55", "+553400"), Err(reason::TOO_SHORT));
        assert_eq!(norm("55", "abc"), Err(reason::NOT_A_PHONE_NUMBER));
        assert_eq!(norm("55", "31 9999-000l"), Err(reason::NOT_A_PHONE_NUMBER));
        assert_eq!(norm("55", "+55+31999990001"), Err(reason::NOT_A_PHONE_NUMBER));
        assert_eq!(norm("55", "+"), Err(reason::NOT_A_PHONE_NUMBER));
        assert_eq!(norm("55", "(-)"), Err(reason::NOT_A_PHONE_NUMBER));
        assert_eq!(norm("55", ""), Err(reason::EMPTY));
        assert_eq!(norm("55", "   "), Err(reason::EMPTY));
        assert_eq!(norm("55", &"123456789".repeat(3)[..27]), Err(reason::TOO_LONG));
        assert_eq!(norm("55", &"9".repeat(30)), Err(reason::TOO_LONG));
        assert_eq!(norm("55", "123"), Err(reason::TOO_SHORT));
        // Brazil dials 8 digits for nationwide 4004-style numbers only.
        assert_eq!(norm("55", "9999-0001"), Err(reason::NOT_A_VALID_NUMBER));
        assert_eq!(norm("1", "253-0000"), Err(reason::MISSING_AREA_CODE));
        assert_eq!(norm("55", "+999 1234 5678"), Err(reason::UNKNOWN_COUNTRY_CODE));
        // Area code 20 does not exist in Brazil.
        assert_eq!(norm("55", "+55 20 99999 0001"), Err(reason::NOT_A_VALID_NUMBER));
        assert!(norm("55", "+55 31 99999 00011").is_err());
    }

    #[test]
    fn invalid_reason_displays() {
        let error = br().normalize("+553400").unwrap_err();
        assert_eq!(error.to_string(), "invalid phone number: too short");
    }

    #[test]
    fn other_countries_follow_libphonenumber() {
        // US
        assert_all("55", &["+1 650 253 0000", "+1 (650) 253-0000", "0016502530000"], "+16502530000");
        // Portugal
        assert_all("55", &["+351 912 345 678", "00351912345678"], "+351912345678");
        // Germany
        assert_all("55", &["+49 151 23456789", "+49 (0)151 23456789"], "+4915123456789");
        // Argentina: mobiles carry a 9 after the country code; libphonenumber's business.
        assert_all("55", &["+54 9 11 2345-6789"], "+5491123456789");
        assert_all("55", &["+54 11 2345-6789"], "+541123456789");
        assert_all("54", &["011 15 2345-6789", "11 15 2345 6789"], "+5491123456789");
        // Italy keeps the leading 0 of fixed lines in E.164.
        let rome = br().normalize("+39 06 6982 1234").unwrap();
        assert_eq!(rome.digits(), "390669821234");
        assert_eq!((rome.country_code(), rome.national_number()), (39, 669821234));
    }

    #[test]
    fn foreign_digits_without_plus_are_international_when_not_national() {
        assert_all("55", &["4915123456789", "49 151 23456789"], "+4915123456789");
        assert_all("55", &["351912345678"], "+351912345678");
    }

    #[test]
    fn carrier_international_prefix_is_understood_after_00() {
        // 0021: Brazil's international prefix through carrier 21.
        assert_all("55", &["0021 49 151 23456789"], "+4915123456789");
    }

    #[test]
    fn other_default_country_codes_read_their_national_numbers() {
        assert_all("1", &["(650) 253-0000", "650-253-0000", "1 650 253 0000", "+16502530000"], "+16502530000");
        assert_all("1", &["011 49 151 23456789"], "+4915123456789");
        assert_all("1", &["5531999990001"], "+5531999990001");
        assert!(norm("1", "115 253 0000").is_err());
        assert_all("351", &["912 345 678"], "+351912345678");
        assert_all("49", &["0151 23456789", "015123456789"], "+4915123456789");
        // The 9th-digit rule belongs to Brazilian numbers whatever the default country.
        assert_all("1", &["+55 31 9999-0001"], "+5531999990001");
    }

    #[test]
    fn normalizer_needs_a_known_country_code() {
        assert_eq!(br().region(), "BR");
        assert_eq!(br().default_country_code(), 55);
        assert_eq!(PhoneNormalizer::new("+55").unwrap().region(), "BR");
        assert_eq!(PhoneNormalizer::new("1").unwrap().region(), "US");
        assert_eq!(PhoneNormalizer::new("351").unwrap().region(), "PT");
        for bad in ["999", "800", "0", "055", "abc", "", "5555"] {
            let error = PhoneNormalizer::new(bad).unwrap_err();
            assert!(error.contains(&format!("\"{bad}\"")), "{error}");
        }
    }

    #[test]
    fn normalizer_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<PhoneNormalizer>();
        assert_send_sync::<Phone>();
    }
}
