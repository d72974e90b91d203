//! PLACEHOLDER until the phone branch lands (naive digits only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Phone(u64);
impl Phone {
    pub fn as_u64(self) -> u64 {
        self.0
    }
    pub fn from_u64(v: u64) -> Option<Phone> {
        (v != 0).then_some(Phone(v))
    }
    pub fn digits(&self) -> String {
        self.0.to_string()
    }
    pub fn national_number(&self) -> u64 {
        self.0 % 100_000_000_000
    }
}
impl std::fmt::Display for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "+{}", self.0)
    }
}
#[derive(Debug)]
pub struct InvalidPhone {
    pub reason: &'static str,
}
pub struct PhoneNormalizer {
    cc: String,
}
impl PhoneNormalizer {
    pub fn new(cc: &str) -> Result<Self, String> {
        Ok(PhoneNormalizer { cc: cc.into() })
    }
    pub fn normalize(&self, input: &str) -> Result<Phone, InvalidPhone> {
        let plus = input.trim_start().starts_with('+');
        let d: String = input.chars().filter(|c| c.is_ascii_digit()).collect();
        if d.len() < 10 || d.len() > 15 {
            return Err(InvalidPhone { reason: "not a phone number" });
        }
        let d = if plus || d.starts_with(&self.cc) { d } else { format!("{}{}", self.cc, d) };
        Ok(Phone(d.parse().map_err(|_| InvalidPhone { reason: "not a phone number" })?))
    }
}
pub fn identity(phone: Phone, domain: &str) -> String {
    format!("{}@{domain}", phone.0)
}
