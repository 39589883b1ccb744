//! `images --filter reference=PATTERN`, as docker matches it (distribution
//! `reference.FamiliarMatch`): the pattern is Go's `path.Match` glob, tried against the
//! familiar `name:tag` and then against the familiar name alone, so `busybox` matches
//! `docker.io/library/busybox:latest` and `*/app:1` matches `team/app:1` but not
//! `host:5000/team/app:1` (`*` stops at `/`). Several reference filters are alternatives.

use crate::reference::ImageRef;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FilterError {
    #[error("parse --filter {0:?}: expected KEY=VALUE")]
    Syntax(String),
    #[error("parse --filter {0:?}: only \"reference\" is supported")]
    UnknownKey(String),
    #[error("parse --filter {0:?}: bad pattern")]
    BadPattern(String),
}

/// The reference patterns of `--filter` values.
#[derive(Debug, Default)]
pub struct ImageFilter {
    references: Vec<String>,
}

impl ImageFilter {
    pub fn parse(filters: &[String]) -> Result<ImageFilter, FilterError> {
        let mut references = Vec::new();
        for f in filters {
            let (k, v) = f
                .split_once('=')
                .ok_or_else(|| FilterError::Syntax(f.clone()))?;
            if k.trim() != "reference" {
                return Err(FilterError::UnknownKey(f.clone()));
            }
            // A bad pattern is refused now, not silently matching nothing.
            path_match(v, "").map_err(|_| FilterError::BadPattern(f.clone()))?;
            references.push(v.to_string());
        }
        Ok(ImageFilter { references })
    }

    /// Whether a stored image name passes every filter (no filters: all do).
    pub fn matches(&self, name: &str) -> bool {
        if self.references.is_empty() {
            return true;
        }
        let Ok(r) = name.parse::<ImageRef>() else {
            return false;
        };
        let (familiar, bare) = (r.familiar(), r.familiar_name());
        self.references.iter().any(|p| {
            path_match(p, &familiar).unwrap_or(false) || path_match(p, &bare).unwrap_or(false)
        })
    }
}

#[derive(Debug, PartialEq)]
pub struct BadPattern;

/// Go's `path.Match`: `*` is any run of non-`/` characters, `?` one non-`/` character,
/// `[...]` a class (ranges, `^` negation), `\` escapes.
pub fn path_match(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Validate the whole pattern even when an early mismatch would end the walk.
    check(&p)?;
    Ok(walk(&p, &n))
}

fn check(p: &[char]) -> Result<(), BadPattern> {
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '\\' if i + 1 == p.len() => return Err(BadPattern),
            '\\' => i += 2,
            '[' => i = class(p, i, None).ok_or(BadPattern)?.1,
            _ => i += 1,
        }
    }
    Ok(())
}

fn walk(p: &[char], n: &[char]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some('*') => (0..=n.len())
            .take_while(|&k| k == 0 || n[k - 1] != '/')
            .any(|k| walk(&p[1..], &n[k..])),
        Some('?') => n.first().is_some_and(|c| *c != '/') && walk(&p[1..], &n[1..]),
        Some('[') => match (n.first(), class(p, 0, n.first().copied())) {
            (Some(c), Some((true, end))) if *c != '/' => walk(&p[end..], &n[1..]),
            _ => false,
        },
        Some('\\') => n.first() == p.get(1) && walk(&p[2..], &n[1..]),
        Some(c) => n.first() == Some(c) && walk(&p[1..], &n[1..]),
    }
}

/// The class starting at `p[start] == '['`: whether `c` is in it, and the index after
/// its `]`; `None` when malformed.
fn class(p: &[char], start: usize, c: Option<char>) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negated = p.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let ch = *p.get(i)?;
        if ch == ']' && !first {
            return Some((matched != negated, i + 1));
        }
        first = false;
        let (lo, next) = class_char(p, i)?;
        i = next;
        let hi = if p.get(i) == Some(&'-') && p.get(i + 1) != Some(&']') {
            let (hi, next) = class_char(p, i + 1)?;
            i = next;
            hi
        } else {
            lo
        };
        if lo > hi {
            return None;
        }
        if c.is_some_and(|c| lo <= c && c <= hi) {
            matched = true;
        }
    }
}

fn class_char(p: &[char], i: usize) -> Option<(char, usize)> {
    match *p.get(i)? {
        '\\' => Some((*p.get(i + 1)?, i + 2)),
        '-' | ']' => None,
        c => Some((c, i + 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_path_match_cases() {
        // From Go's path/match_test.go.
        for (p, n, want) in [
            ("abc", "abc", true),
            ("*", "abc", true),
            ("*c", "abc", true),
            ("a*", "a", true),
            ("a*", "abc", true),
            ("a*", "ab/c", false),
            ("a*/b", "abc/b", true),
            ("a*/b", "a/c/b", false),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", true),
            ("a*b?c*x", "abxbbxdbxebxczzx", true),
            ("a*b?c*x", "abxbbxdbxebxczzy", false),
            ("ab[c]", "abc", true),
            ("ab[b-d]", "abc", true),
            ("ab[e-g]", "abc", false),
            ("ab[^c]", "abc", false),
            ("ab[^b-d]", "abc", false),
            ("ab[^e-g]", "abc", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "ab", false),
            ("a?b", "a☺b", true),
            ("a[^a]b", "a☺b", true),
            ("a???b", "a☺b", false),
            ("*x", "xxx", true),
        ] {
            assert_eq!(path_match(p, n), Ok(want), "{p} {n}");
        }
        for bad in [
            "[", "[^", "[^bc", "a[", "ab[]", "a\\", "[a-]", "[-]", "[x-]",
        ] {
            assert_eq!(path_match(bad, "a"), Err(BadPattern), "{bad}");
        }
    }

    #[test]
    fn reference_filters_match_familiar_names() {
        let f = |pats: &[&str]| {
            ImageFilter::parse(
                &pats
                    .iter()
                    .map(|p| format!("reference={p}"))
                    .collect::<Vec<_>>(),
            )
            .unwrap()
        };
        let bb = "docker.io/library/busybox:latest";
        let app = "localhost:5000/team/app:1";
        assert!(f(&["busybox"]).matches(bb));
        assert!(f(&["busy*:lat*"]).matches(bb));
        assert!(!f(&["busybox:1"]).matches(bb));
        assert!(f(&["localhost:5000/team/*"]).matches(app));
        assert!(!f(&["*/app:1"]).matches(app));
        assert!(f(&["nothing", "*/team/app"]).matches(app), "alternatives");
        assert!(f(&[]).matches(app));
        assert_eq!(
            ImageFilter::parse(&["dangling=true".into()]).unwrap_err(),
            FilterError::UnknownKey("dangling=true".into())
        );
        assert!(ImageFilter::parse(&["reference".into()]).is_err());
        assert!(ImageFilter::parse(&["reference=[".into()]).is_err());
    }
}
