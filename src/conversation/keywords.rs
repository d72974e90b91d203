//! Opt-out / opt-in keywords: an inbound text matches when, trimmed, with case, accents and
//! spaces ignored, it equals one of the tenant's keywords ("  sáir " is `SAIR`).

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::config::{TenantConfig, DEFAULT_OPT_IN_KEYWORDS, DEFAULT_OPT_OUT_KEYWORDS};

/// What an inbound text asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    OptOut,
    OptIn,
}

/// A tenant's keywords, folded once.
#[derive(Debug, Clone, Default)]
pub struct Keywords {
    opt_out: Vec<String>,
    opt_in: Vec<String>,
}

/// The comparison form: decomposed, combining marks and whitespace dropped, upper case.
pub fn fold(text: &str) -> String {
    text.nfd().filter(|c| !is_combining_mark(*c) && !c.is_whitespace()).flat_map(char::to_uppercase).collect()
}

impl Keywords {
    pub fn of(tenant: &TenantConfig) -> Keywords {
        let list = |given: &Option<Vec<String>>, default: &[&str]| -> Vec<String> {
            match given {
                Some(words) => words.iter().map(|w| fold(w)).filter(|w| !w.is_empty()).collect(),
                None => default.iter().map(|w| fold(w)).collect(),
            }
        };
        Keywords {
            opt_out: list(&tenant.opt_out_keywords, &DEFAULT_OPT_OUT_KEYWORDS),
            opt_in: list(&tenant.opt_in_keywords, &DEFAULT_OPT_IN_KEYWORDS),
        }
    }

    /// The keyword `text` is, if any (opt-out wins if a word is in both lists).
    pub fn classify(&self, text: &str) -> Option<Keyword> {
        let folded = fold(text);
        if folded.is_empty() {
            return None;
        }
        if self.opt_out.contains(&folded) {
            Some(Keyword::OptOut)
        } else if self.opt_in.contains(&folded) {
            Some(Keyword::OptIn)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Keywords {
        Keywords {
            opt_out: DEFAULT_OPT_OUT_KEYWORDS.iter().map(|w| fold(w)).collect(),
            opt_in: DEFAULT_OPT_IN_KEYWORDS.iter().map(|w| fold(w)).collect(),
        }
    }

    #[test]
    fn case_accents_and_spaces_are_ignored() {
        let k = defaults();
        for text in ["SAIR", "sair", "  Sáir \n", "S A I R", "pArAr", "descadastrar"] {
            assert_eq!(k.classify(text), Some(Keyword::OptOut), "{text:?}");
        }
        assert_eq!(k.classify(" voltar"), Some(Keyword::OptIn));
        assert_eq!(k.classify("Start"), Some(Keyword::OptIn));
    }

    #[test]
    fn other_texts_are_not_keywords() {
        let k = defaults();
        for text in ["", "   ", "quero sair", "SAIR!", "stopp", "Quero saber mais"] {
            assert_eq!(k.classify(text), None, "{text:?}");
        }
    }
}
