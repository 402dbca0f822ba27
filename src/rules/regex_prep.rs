//! What is worked out from a rule's regex before it runs: its rewrite to
//! ASCII word boundaries and Perl classes ([`ascii_perl_classes`]), the
//! literals every match starts with ([`leading_literals`]), and whether
//! every match starts at a word boundary.
//!
//! This file depends on regex-syntax alone: `build.rs` includes it too and
//! works all of this out for the embedded default rules when spamsift is
//! built (see [`super::plan`]), so a process that starts for one message
//! (`spamsift check`) does not parse every regex of its channel again.

use regex_syntax::ast::{
    self, Assertion, AssertionKind, Ast, ClassPerlKind, Flag, Flags, FlagsItem, FlagsItemKind,
    Group, GroupKind,
};
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Capture, Class, Hir, HirKind, Repetition};

/// Most distinct leading literals a regex may have and still be found by
/// them; more (long alternations) scan alone.
pub const MAX_LITERALS: usize = 64;

/// What a running pattern's matcher needs to know of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegexPlan {
    /// The literals every match starts with, lower-case and deduplicated
    /// (`None`: a match can start otherwise; the regex scans the whole text).
    pub literals: Option<Vec<String>>,
    /// Every match starts with a word-boundary assertion.
    pub starts_at_boundary: bool,
}

/// The plan of a running pattern (one that [`ascii_perl_classes`] made).
pub fn plan(pattern: &str) -> Result<RegexPlan, String> {
    let hir = parse(pattern)?;
    Ok(RegexPlan {
        literals: leading_literals_of(&hir),
        starts_at_boundary: starts_with_word_boundary(&hir),
    })
}

/// Rewrite a pattern so word boundaries and the positive Perl classes are
/// ASCII. The pattern must already be valid; on a parse error it is returned
/// unchanged so the regex compiler reports the error.
pub fn ascii_perl_classes(pattern: &str) -> String {
    match ast::parse::Parser::new().parse(pattern) {
        Ok(mut parsed) => {
            rewrite(&mut parsed);
            let mut out = String::with_capacity(pattern.len() + 16);
            match ast::print::Printer::new().print(&parsed, &mut out) {
                Ok(()) => out,
                Err(_) => pattern.to_string(),
            }
        }
        Err(_) => pattern.to_string(),
    }
}

fn ascii_group(inner: Ast) -> Ast {
    let span = *inner.span();
    Ast::group(Group {
        span,
        kind: GroupKind::NonCapturing(Flags {
            span,
            items: vec![
                FlagsItem {
                    span,
                    kind: FlagsItemKind::Negation,
                },
                FlagsItem {
                    span,
                    kind: FlagsItemKind::Flag(Flag::Unicode),
                },
            ],
        }),
        ast: Box::new(inner),
    })
}

fn rewrite(node: &mut Ast) {
    let replacement = match node {
        Ast::Assertion(a)
            if matches!(
                a.kind,
                AssertionKind::WordBoundary | AssertionKind::NotWordBoundary
            ) =>
        {
            Some(ascii_group(Ast::assertion(Assertion {
                span: a.span,
                kind: a.kind.clone(),
            })))
        }
        Ast::ClassPerl(c)
            if !c.negated
                && matches!(
                    c.kind,
                    ClassPerlKind::Digit | ClassPerlKind::Word | ClassPerlKind::Space
                ) =>
        {
            Some(ascii_group(Ast::class_perl((**c).clone())))
        }
        Ast::Repetition(r) => {
            rewrite(&mut r.ast);
            None
        }
        Ast::Group(g) => {
            rewrite(&mut g.ast);
            None
        }
        Ast::Alternation(a) => {
            a.asts.iter_mut().for_each(rewrite);
            None
        }
        Ast::Concat(c) => {
            c.asts.iter_mut().for_each(rewrite);
            None
        }
        _ => None,
    };
    if let Some(r) = replacement {
        *node = r;
    }
}

/// The literals every match of `pattern` starts with, lower-case and
/// deduplicated; `None` when a match can start otherwise.
pub fn leading_literals(pattern: &str) -> Option<Vec<String>> {
    leading_literals_of(&parse(pattern).ok()?)
}

/// A pattern parsed as the `regex` crate parses it (Unicode mode).
pub fn parse(pattern: &str) -> Result<Hir, String> {
    regex_syntax::ParserBuilder::new()
        .build()
        .parse(pattern)
        .map_err(|e| e.to_string())
}

/// [`leading_literals`] of a parsed pattern.
pub fn leading_literals_of(hir: &Hir) -> Option<Vec<String>> {
    // Literals are matched ASCII case-insensitively anyway: a letter that
    // matches both its cases becomes its lower-case letter first, so the
    // extractor does not spell out 2^n case variants (most of rule-set
    // compile time before).
    let hir = fold_ascii_case(hir);
    // Case-insensitive literals multiply (`(?i)script` has 2^6 spellings
    // and more with Unicode folds); allow enough before the extractor
    // shortens them, since they collapse again once lower-cased.
    let seq = Extractor::new()
        .kind(ExtractKind::Prefix)
        .limit_total(4096)
        .extract(&hir);
    // Lower-cased, case spellings collapse: deduplicate with a set.
    let mut seen = std::collections::HashSet::new();
    let mut full: Vec<String> = Vec::new();
    for lit in seq.literals()? {
        let text = std::str::from_utf8(lit.as_bytes()).ok()?;
        if text.is_empty() {
            return None; // some match starts with anything
        }
        let lower = text.to_ascii_lowercase();
        if seen.insert(lower.clone()) {
            full.push(lower);
        }
    }
    // Too many (`\$\s?\d` has 70 spellings): shorten them all until few
    // enough distinct prefixes remain; `$` alone still finds every match.
    let longest = full.iter().map(String::len).max()?;
    (1..=longest).rev().find_map(|len| {
        let mut out: Vec<String> = Vec::new();
        let mut distinct = std::collections::HashSet::new();
        for lit in &full {
            let cut = (0..=len.min(lit.len()))
                .rev()
                .find(|&i| lit.is_char_boundary(i))?;
            let short = &lit[..cut];
            if short.is_empty() {
                return None;
            }
            if distinct.insert(short) {
                out.push(short.to_string());
                if out.len() > MAX_LITERALS {
                    return None; // too many at this length: try shorter
                }
            }
        }
        Some(out)
    })
}

/// `hir` with every class that is exactly an ASCII letter in both cases
/// replaced by the lower-case letter (classes with more members, such as
/// `(?i)k`, which also matches KELVIN SIGN, are kept).
fn fold_ascii_case(hir: &Hir) -> Hir {
    // The lower-case letter when `ranges` are exactly one letter's two cases.
    fn case_pair(mut ranges: impl Iterator<Item = (u32, u32)>) -> Option<u8> {
        let (Some((a, a_end)), Some((b, b_end)), None) =
            (ranges.next(), ranges.next(), ranges.next())
        else {
            return None;
        };
        let (a, b) = (u8::try_from(a).ok()?, u8::try_from(b).ok()?);
        let single = u32::from(a) == a_end && u32::from(b) == b_end;
        (single && a.is_ascii_uppercase() && b == a.to_ascii_lowercase()).then_some(b)
    }
    let pair = match hir.kind() {
        HirKind::Class(Class::Unicode(c)) => case_pair(
            c.ranges()
                .iter()
                .map(|r| (u32::from(r.start()), u32::from(r.end()))),
        ),
        HirKind::Class(Class::Bytes(c)) => case_pair(
            c.ranges()
                .iter()
                .map(|r| (u32::from(r.start()), u32::from(r.end()))),
        ),
        _ => None,
    };
    if let Some(letter) = pair {
        return Hir::literal([letter]);
    }
    match hir.kind() {
        HirKind::Concat(subs) => Hir::concat(subs.iter().map(fold_ascii_case).collect()),
        HirKind::Alternation(subs) => Hir::alternation(subs.iter().map(fold_ascii_case).collect()),
        HirKind::Repetition(r) => Hir::repetition(Repetition {
            sub: Box::new(fold_ascii_case(&r.sub)),
            ..r.clone()
        }),
        HirKind::Capture(c) => Hir::capture(Capture {
            sub: Box::new(fold_ascii_case(&c.sub)),
            ..c.clone()
        }),
        _ => hir.clone(),
    }
}

/// Whether every match of a parsed pattern starts with a word-boundary
/// assertion (`\b`, ASCII or Unicode, or a word-start assertion).
pub fn starts_with_word_boundary(hir: &Hir) -> bool {
    use regex_syntax::hir::Look;
    fn starts(hir: &Hir) -> bool {
        match hir.kind() {
            HirKind::Look(
                Look::WordAscii | Look::WordUnicode | Look::WordStartAscii | Look::WordStartUnicode,
            ) => true,
            HirKind::Concat(subs) => subs.first().is_some_and(starts),
            HirKind::Alternation(subs) => subs.iter().all(starts),
            HirKind::Capture(c) => starts(&c.sub),
            _ => false,
        }
    }
    starts(hir)
}
