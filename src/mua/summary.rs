//! The header summary line (`headers`, `from`, `-H`), Heirloom mailx's look:
//! `>N  2 zhangsan@example.com  Fri Mar 22 13:10  18/601   "test2"`.
//!
//! The `headline` variable takes s-nail's format specifiers: `%>` current marker, `%<`,
//! `%a` status letter, `%m` number, `%t` position (= number, no threading), `%e` thread
//! level (0), `%f` sender, `%d` date, `%l` lines, `%o` octets,
//! `%s` subject, `%S` quoted subject, `%i` thread indent (empty), `%%`; each with an optional
//! `-` (left-align), width and `.precision`, all in display columns (CJK counts two).

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Heirloom mailx's summary line, which reproduces the seed transcript's lines exactly; the
/// sender is cut to its 20 columns (as s-nail does), so a long address never pushes the
/// subject off the line.
pub const DEFAULT_HEADLINE: &str = "%>%a%m %-20.20f  %16d %3l/%-5o %i%S";

/// The facts one summary line shows.
#[derive(Debug, Clone, Default)]
pub struct Line<'a> {
    /// This is the current message.
    pub current: bool,
    /// Status letter: `N` new, `U` unread, `R` read now, `O` read before, `*` saved,
    /// `P` preserved, `M` to mbox, `D` deleted, ` ` none.
    pub status: char,
    /// Message number, 1-based.
    pub number: usize,
    /// Sender as shown (address, or name with `showname`, or `To: …` with `showto`).
    pub from: &'a str,
    /// Date as shown, e.g. `Fri Mar 22 13:10`.
    pub date: &'a str,
    /// Lines of the message; `None` when not known yet (a remote message not read: the
    /// column stays blank, as in s-nail).
    pub lines: Option<u64>,
    /// Size in bytes.
    pub bytes: u64,
    /// Decoded subject.
    pub subject: &'a str,
}

#[derive(Debug, Clone)]
enum Piece {
    Lit(String),
    Spec {
        left: bool,
        width: Option<usize>,
        prec: Option<usize>,
        conv: char,
    },
}

/// A parsed `headline` format, reusable for every line.
#[derive(Debug, Clone)]
pub struct Headline {
    pieces: Vec<Piece>,
}

impl Headline {
    /// Parses a format; unknown specifiers are kept literally.
    pub fn parse(fmt: &str) -> Headline {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut it = fmt.chars().peekable();
        while let Some(c) = it.next() {
            if c != '%' {
                lit.push(c);
                continue;
            }
            let mut left = false;
            if it.peek() == Some(&'-') {
                left = true;
                it.next();
            }
            let mut width = None;
            while let Some(d) = it.peek().and_then(|c| c.to_digit(10)) {
                width = Some(width.unwrap_or(0) * 10 + d as usize);
                it.next();
            }
            let mut prec = None;
            if it.peek() == Some(&'.') {
                it.next();
                let mut p = 0;
                while let Some(d) = it.peek().and_then(|c| c.to_digit(10)) {
                    p = p * 10 + d as usize;
                    it.next();
                }
                prec = Some(p);
            }
            match it.next() {
                Some('%') => lit.push('%'),
                Some(
                    conv @ ('>' | '<' | 'a' | 'm' | 't' | 'e' | 'f' | 'd' | 'l' | 'o' | 's' | 'S'
                    | 'i'),
                ) => {
                    if !lit.is_empty() {
                        pieces.push(Piece::Lit(std::mem::take(&mut lit)));
                    }
                    pieces.push(Piece::Spec {
                        left,
                        width,
                        prec,
                        conv,
                    });
                }
                Some(other) => {
                    lit.push('%');
                    lit.push(other);
                }
                None => lit.push('%'),
            }
        }
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit));
        }
        Headline { pieces }
    }

    /// Formats `l` and cuts the result to `width - 1` display columns (so a terminal never
    /// wraps it); trailing blanks are removed.
    pub fn format(&self, l: &Line<'_>, width: usize) -> String {
        use std::fmt::Write;
        let mut out = String::with_capacity(96);
        let mut num = String::with_capacity(24);
        for p in &self.pieces {
            match p {
                Piece::Lit(s) => out.push_str(s),
                Piece::Spec {
                    left,
                    width,
                    prec,
                    conv,
                } => {
                    num.clear();
                    let (text, numeric): (&str, bool) = match conv {
                        '>' => (if l.current { ">" } else { " " }, false),
                        '<' => (if l.current { "<" } else { " " }, false),
                        'a' => {
                            num.push(l.status);
                            (&num, false)
                        }
                        'l' if l.lines.is_none() => ("", true),
                        'm' | 't' | 'l' | 'o' | 'e' => {
                            // Without threading, the position in the list (`%t`) is the
                            // message number and the thread level (`%e`) is 0.
                            let v = match conv {
                                'm' | 't' => l.number as u64,
                                'e' => 0,
                                'l' => l.lines.unwrap_or(0),
                                _ => l.bytes,
                            };
                            let _ = write!(num, "{v}");
                            (&num, true)
                        }
                        'f' => (l.from, false),
                        'd' => (l.date, false),
                        's' => (l.subject, false),
                        'S' => {
                            num.push('"');
                            num.push_str(l.subject);
                            num.push('"');
                            (&num, false)
                        }
                        _ => ("", false),
                    };
                    // `%m` without a width is three columns wide, as Heirloom's `%3d`.
                    let width = if *conv == 'm' && width.is_none() {
                        Some(3)
                    } else {
                        *width
                    };
                    pad(
                        &mut out,
                        text,
                        *left || (!numeric && width.is_none()),
                        width,
                        *prec,
                    );
                }
            }
        }
        let limit = width.saturating_sub(1).max(1);
        // A UTF-8 character never takes more columns than bytes, so a line of at most
        // `limit` bytes needs no cut.
        let fits = if out.len() <= limit {
            &out[..]
        } else {
            cut_columns(&out, limit)
        };
        let keep = fits.trim_end().len();
        out.truncate(keep);
        out
    }
}

fn pad(out: &mut String, text: &str, left: bool, width: Option<usize>, prec: Option<usize>) {
    let text = match prec {
        Some(p) => cut_columns(text, p),
        None => text,
    };
    let w = columns(text);
    let fill = width.map(|x| x.saturating_sub(w)).unwrap_or(0);
    if !left {
        out.extend(std::iter::repeat_n(' ', fill));
    }
    out.push_str(text);
    if left {
        out.extend(std::iter::repeat_n(' ', fill));
    }
}

/// The longest prefix of `s` that fits in `cols` display columns.
pub fn cut_columns(s: &str, cols: usize) -> &str {
    if s.is_ascii() {
        return &s[..s.len().min(cols)];
    }
    let mut used = 0;
    for (i, c) in s.char_indices() {
        let w = c.width().unwrap_or(0);
        if used + w > cols {
            return &s[..i];
        }
        used += w;
    }
    s
}

/// Display columns of `s` (CJK wide characters count two).
fn columns(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.width()
    }
}

/// Replaces control characters (tabs, escapes, line ends) so a hostile header cannot move the
/// cursor or break the one-line-per-message promise of `-H`.
pub fn sanitize(s: &str) -> std::borrow::Cow<'_, str> {
    let control = if s.is_ascii() {
        s.bytes().any(|b| b < 0x20 || b == 0x7f)
    } else {
        s.chars().any(|c| c.is_control())
    };
    if control {
        s.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect::<String>()
            .into()
    } else {
        s.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_transcript_lines() {
        let h = Headline::parse(DEFAULT_HEADLINE);
        let l = Line {
            current: true,
            status: 'N',
            number: 2,
            from: "zhangsan@example.com",
            date: "Fri Mar 22 13:10",
            lines: Some(18),
            bytes: 601,
            subject: "test2",
        };
        assert_eq!(
            h.format(&l, 80),
            r#">N  2 zhangsan@example.com  Fri Mar 22 13:10  18/601   "test2""#
        );
        let l1 = Line {
            current: false,
            status: ' ',
            number: 1,
            subject: "test",
            ..l
        };
        assert_eq!(
            h.format(&l1, 80),
            r#"    1 zhangsan@example.com  Fri Mar 22 13:10  18/601   "test""#
        );
    }

    #[test]
    fn a_long_sender_is_cut_so_the_subject_shows() {
        let h = Headline::parse(DEFAULT_HEADLINE);
        let l = Line {
            current: false,
            status: 'N',
            number: 1,
            from: "verylongaddress.something@subdomain.example.com",
            date: "Tue Dec  1 03:33",
            lines: Some(6),
            bytes: 129,
            subject: "a subject here",
        };
        assert_eq!(
            h.format(&l, 80),
            r#" N  1 verylongaddress.some  Tue Dec  1 03:33   6/129   "a subject here""#
        );
        // A remote message not read yet: no line count, the column left blank.
        let unknown = Line { lines: None, ..l };
        assert_eq!(
            h.format(&unknown, 80),
            r#" N  1 verylongaddress.some  Tue Dec  1 03:33    /129   "a subject here""#
        );
    }

    #[test]
    fn cjk_fits_in_columns() {
        let h = Headline::parse(DEFAULT_HEADLINE);
        let subject = "测试".repeat(40);
        let l = Line {
            status: 'U',
            number: 10,
            from: "a@b",
            date: "Fri Mar 22 13:10",
            lines: Some(1),
            bytes: 2,
            subject: &subject,
            ..Line::default()
        };
        let s = h.format(&l, 80);
        assert!(s.width() <= 79, "{}", s.width());
        assert!(s.width() >= 78);
    }

    #[test]
    fn custom_format_and_literal_percent() {
        let h = Headline::parse("%m%% %-5.3s|%4l|%x");
        let l = Line {
            number: 7,
            subject: "abcdef",
            lines: Some(12),
            ..Line::default()
        };
        assert_eq!(h.format(&l, 80), "  7% abc  |  12|%x");
    }

    #[test]
    fn control_characters_removed() {
        assert_eq!(sanitize("a\x1b[2Jb\nc"), "a [2Jb c");
    }
}
