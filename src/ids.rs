//! Identifier shapes: how many digits an identifier has and which zeros lead
//! its last run of digits. A leaf: token statistics, pairings and outcome
//! predictors all describe identifiers this way.

/// Digits of an identifier: all of them, and the zeros that lead its last run of
/// digits (`HP:0001250` → 7 digits, 3 leading zeros; `BRCA1` → 1, 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdShape {
    pub digits: usize,
    pub leading_zeros: usize,
}

impl IdShape {
    pub fn of(id: &str) -> IdShape {
        IdShape {
            digits: id.chars().filter(char::is_ascii_digit).count(),
            leading_zeros: Self::leading_zero_chars(id).len(),
        }
    }

    /// Where the leading zeros of the last digit run lie, in chars (empty if none).
    /// A run of zeros alone ("HP:000") is all leading zeros but its last.
    pub fn leading_zero_chars(id: &str) -> std::ops::Range<usize> {
        let chars: Vec<char> = id.chars().collect();
        let Some(end) = chars.iter().rposition(char::is_ascii_digit).map(|i| i + 1) else {
            return 0..0;
        };
        let start = chars[..end]
            .iter()
            .rposition(|c| !c.is_ascii_digit())
            .map_or(0, |i| i + 1);
        let zeros = chars[start..end].iter().take_while(|&&c| c == '0').count();
        let zeros = if start + zeros == end {
            zeros - 1
        } else {
            zeros
        };
        start..start + zeros
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_zeros_of_the_last_digit_run() {
        let z = IdShape::leading_zero_chars;
        assert_eq!(z("HP:0001250"), 3..6);
        assert_eq!(z("HP:000"), 3..5);
        assert_eq!(z("BRCA1"), 4..4);
        assert_eq!(z("abc"), 0..0);
        assert_eq!(z("0012"), 0..2);
        assert_eq!(z("A01B002x"), 4..6);
        assert_eq!(z("é:007"), 2..4);
        assert_eq!(
            IdShape::of("HP:0001250"),
            IdShape {
                digits: 7,
                leading_zeros: 3
            }
        );
    }
}
