//! Phone numbers: the normalised E.164 [`Phone`] every recipient and contact is keyed by, and
//! its identity on a channel. [`PhoneNormalizer`] (in `normalizer`) turns what a user wrote
//! into one.

mod normalizer;

use std::fmt;

pub use normalizer::{reason, InvalidPhone, PhoneNormalizer};

/// Most digits of an E.164 number.
const MAX_E164_DIGITS: u32 = 15;
/// The two-digit country calling codes (ITU-T E.164 assignments); `1` and `7` are the
/// one-digit ones and every other code has three digits. Country codes form a prefix code,
/// so the leading digits of an E.164 number tell its code; a test checks this table against
/// every code libphonenumber knows.
const TWO_DIGIT_CODES: [u16; 44] = [
    20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54, 55, 56, 57, 58, 60, 61, 62,
    63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98,
];

/// A normalised phone number: its E.164 digits without `+` (at most 15, so a `u64`).
///
/// Ordering and hashing are those of the digits as a number; `Display` gives `+5531999990001`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Phone(u64);

impl Phone {
    /// The E.164 digits without `+`: `"5531999990001"`.
    pub fn digits(&self) -> String {
        self.0.to_string()
    }

    /// The E.164 digits as a number: `5531999990001`.
    pub fn as_u64(&self) -> u64 {
        self.0
    }

    /// Back from [`Phone::as_u64`] (as stored); `0` means no valid number.
    pub fn from_u64(digits: u64) -> Option<Phone> {
        (digits != 0).then_some(Phone(digits))
    }

    /// The country calling code: `55`.
    pub fn country_code(&self) -> u16 {
        self.split().0
    }

    /// The digits after the country code: `31999990001`. Leading zeros (Italian fixed
    /// lines) are not kept; fine for "last four digits" checks (`national_number() % 10_000`).
    pub fn national_number(&self) -> u64 {
        self.split().1
    }

    fn split(&self) -> (u16, u64) {
        let digits = self.0.checked_ilog10().unwrap_or(0) + 1;
        let lead = |k: u32| self.0 / 10u64.pow(digits.saturating_sub(k));
        let code_len = match lead(1) {
            1 | 7 => 1,
            _ if TWO_DIGIT_CODES.contains(&(lead(2) as u16)) => 2,
            _ => 3,
        };
        let national_len = digits.saturating_sub(code_len);
        let scale = 10u64.pow(national_len);
        ((self.0 / scale) as u16, self.0 % scale)
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+{}", self.0)
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone(+{})", self.0)
    }
}

/// The identity of `phone` on a channel: its E.164 digits without `+`, `@`, the channel's
/// domain: `5531999990001@wa.gw.msging.net` (WhatsApp), `…@googlercs.gw.msging.net` (RCS).
pub fn identity(phone: Phone, channel_domain: &str) -> String {
    format!("{}@{}", phone.0, channel_domain)
}

#[cfg(test)]
mod tests {
    use rlibphonenumber::PHONE_NUMBER_UTIL;

    use super::*;

    fn br() -> PhoneNormalizer {
        PhoneNormalizer::new("55").unwrap()
    }

    #[test]
    fn phone_exposes_digits_country_code_and_national_number() {
        let phone = br().normalize("(31) 99999-0001").unwrap();
        assert_eq!(phone.digits(), "5531999990001");
        assert_eq!(phone.as_u64(), 5531999990001);
        assert_eq!(phone.to_string(), "+5531999990001");
        assert_eq!(format!("{phone:?}"), "Phone(+5531999990001)");
        assert_eq!(phone.country_code(), 55);
        assert_eq!(phone.national_number(), 31999990001);
        let us = br().normalize("+1 650 253 0000").unwrap();
        assert_eq!((us.country_code(), us.national_number()), (1, 6502530000));
        let pt = br().normalize("+351 912 345 678").unwrap();
        assert_eq!((pt.country_code(), pt.national_number()), (351, 912345678));
        let ru = br().normalize("+7 912 345-67-89").unwrap();
        assert_eq!((ru.country_code(), ru.national_number()), (7, 9123456789));
    }

    #[test]
    fn phones_are_equal_whatever_the_input_format() {
        let normalizer = br();
        let a = normalizer.normalize("5531999990001").unwrap();
        let b = normalizer.normalize("(31) 9999-0001").unwrap();
        assert_eq!(a, b);
        let set: std::collections::HashSet<Phone> = [a, b].into_iter().collect();
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn identity_is_digits_at_channel_domain() {
        let phone = br().normalize("+55 31 99999-0001").unwrap();
        assert_eq!(identity(phone, "wa.gw.msging.net"), "5531999990001@wa.gw.msging.net");
        assert_eq!(identity(phone, "googlercs.gw.msging.net"), "5531999990001@googlercs.gw.msging.net");
    }

    #[test]
    fn country_code_table_matches_libphonenumber() {
        let codes: Vec<i32> = PHONE_NUMBER_UTIL
            .get_supported_calling_codes()
            .chain(PHONE_NUMBER_UTIL.get_supported_global_network_calling_codes())
            .collect();
        assert!(codes.len() > 200);
        for code in codes {
            let code = u16::try_from(code).unwrap();
            let code_len = code.ilog10() + 1;
            for national_len in 4..=(MAX_E164_DIGITS - code_len) {
                let national = 10u64.pow(national_len - 1) * 9 + 1;
                let phone = Phone(u64::from(code) * 10u64.pow(national_len) + national);
                assert_eq!(phone.country_code(), code, "{phone}");
                assert_eq!(phone.national_number(), national, "{phone}");
            }
        }
    }

    #[test]
    fn fast_path_agrees_with_libphonenumber_parser() {
        let fast = br();
        let slow = br().with_fast_path(false);
        let mut rng = fastrand::Rng::with_seed(7);
        let mut checked = 0;
        for area in 10..=99u64 {
            for lead in 0..=9u64 {
                for subscriber_len in 7..=9u32 {
                    let rest = rng.u64(0..10u64.pow(subscriber_len - 1));
                    let national = format!("{area}{lead}{rest:0width$}", width = subscriber_len as usize - 1);
                    for input in [
                        national.clone(),
                        format!("55{national}"),
                        format!("+55{national}"),
                        format!("0{national}"),
                        format!("90{national}"),
                        format!("+550{national}"),
                        format!("+5590{national}"),
                    ] {
                        assert_eq!(fast.normalize(&input), slow.normalize(&input), "{input}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 10_000);
    }
}
