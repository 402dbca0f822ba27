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
    pub literals: Option<Vec<Literal>>,
    /// Every match starts with a word-boundary assertion.
    pub starts_at_boundary: bool,
    /// Some branch of the regex matches only at the start of the text
    /// (`^` without `(?m)`): the regex is tried there once, and `literals`
    /// are those of its other branches (none when every branch is such).
    /// A branch's leading whitespace would otherwise make each space of a
    /// text a candidate (`^\s*adv:` put 15 anchored searches into every SMS).
    pub at_start: bool,
    /// Every branch of the regex starts at a line start (`(?m)^`), then
    /// optional runs of classes (`[ \t]*`, `\s*`): `literals` are those of
    /// what follows, and the regex is tried from the start of the line each
    /// is found on. The runs' literals would otherwise be each space of a
    /// text (`(?m)^[ \t]*>` made every space of every email a candidate).
    pub line_start: bool,
    /// Literals a text must hold for the regex to match in it: of each
    /// clause, at least one (see [`required_literals_of`]). Empty: none known.
    pub required: Vec<Vec<Literal>>,
}

/// A literal of a plan: borrowed from the tables of the embedded rules'
/// plans (`super::plan`), which a process that starts for one message then
/// does not copy, or worked out at start.
pub type Literal = std::borrow::Cow<'static, str>;

/// The plan of a running pattern (one that [`ascii_perl_classes`] made).
pub fn plan(pattern: &str) -> Result<RegexPlan, String> {
    let hir = parse(pattern)?;
    let (elsewhere, at_start) = split_start_branches(&hir);
    let after_line_start = elsewhere.as_ref().and_then(after_line_starts);
    let line_start = after_line_start.is_some();
    let literals = match (&after_line_start, &elsewhere) {
        (Some(rest), _) | (None, Some(rest)) => leading_literals_of(rest),
        (None, None) => Some(Vec::new()),
    };
    // A regex found by the literals after its line starts but that has
    // none there scans as before.
    let line_start = line_start && literals.is_some();
    let mut required = required_literals_of(&hir);
    // A clause the leading literals satisfy tells nothing more: the regex
    // is only tried where one of them was found (and not at the start of
    // a text, where a match need not begin with one of them).
    if let Some(lits) = literals.as_ref().filter(|_| !at_start) {
        required.retain(|clause| !lits.iter().all(|l| clause.iter().any(|c| l.contains(c))));
    }
    // Each literal may cost a search of the whole text: within a budget.
    required.truncate(MAX_CLAUSES);
    // "Some digit": too common a literal for the clauses above, but most
    // texts of a few words (an SMS, a chat line, a subject) have none, and
    // the phone-number, price and short-code regexes need one. Last, so it
    // never displaces a clause of longer literals.
    if requires_ascii_digit(&hir) && required.len() < MAX_CLAUSES {
        required.push(('0'..='9').map(String::from).collect());
    }
    let mut budget = MAX_REQUIRED_LITERALS;
    required.retain(|clause| {
        let fits = clause.len() <= budget;
        if fits {
            budget -= clause.len();
        }
        fits
    });
    Ok(RegexPlan {
        literals: literals.map(|l| l.into_iter().map(Literal::Owned).collect()),
        starts_at_boundary: starts_with_word_boundary(&hir),
        at_start,
        line_start,
        required: required
            .into_iter()
            .map(|c| c.into_iter().map(Literal::Owned).collect())
            .collect(),
    })
}

/// Most strings a literal set spelled out from classes may hold.
const MAX_SPELLINGS: usize = 32;
/// Most literals of one clause of [`required_literals_of`].
const MAX_CLAUSE: usize = 64;
/// Most clauses [`required_literals_of`] keeps.
const MAX_CLAUSES: usize = 16;
/// Most literals of all the clauses a plan keeps (a text without them is
/// searched once for each).
const MAX_REQUIRED_LITERALS: usize = 64;
/// Most members of a class spelled out into literals (a letter with its
/// case variants, KELVIN SIGN and LONG S included, has at most three; a
/// class of zero-width characters, five).
const MAX_CLASS_SPELLED: usize = 8;

/// Literals that every match of a parsed pattern contains, as clauses: a
/// text in which some clause has none of its literals (ASCII
/// case-insensitively) holds no match. Lower-case, each clause
/// deduplicated; empty when nothing is known. For example
/// `(?i)\bscan\s+(?:qr|q\.r\.)\s+code[\s\S]{0,120}\bverify` gives
/// `[["scan"], ["qr", "q.r."], ["code"], ["verify"]]`.
///
/// A process that classifies one message compiles a regex only when its
/// leading literal occurs; a regex whose leading literals are common words
/// (`update`, `access`) but which needs a rare one (`qr`) is then spared
/// by a search for that one. Sound by construction: each clause is
/// derived from what the pattern's syntax forces into every match (a
/// literal, a concatenation, an alternation whose every branch forces
/// one), never from a guess.
pub fn required_literals_of(hir: &Hir) -> Vec<Vec<String>> {
    let mut clauses = Required::of(hir).clauses;
    for c in &mut clauses {
        c.sort();
        c.dedup();
    }
    clauses.sort();
    clauses.dedup();
    clauses.sort_by_key(|c| strength(c));
    // A clause that a kept one implies adds nothing: when each literal of
    // the kept clause contains one of this clause's, a text holding the
    // first holds the second (`["eligible"]` implies `["ligible", "x"]`).
    let implies =
        |k: &[String], c: &[String]| k.iter().all(|l| c.iter().any(|m| l.contains(m.as_str())));
    (0..clauses.len())
        .filter(|&i| {
            let c = &clauses[i];
            !clauses.iter().enumerate().any(|(j, k)| {
                // Of two that imply each other, the first is kept.
                j != i && implies(k, c) && (j < i || !implies(c, k))
            })
        })
        .map(|i| clauses[i].clone())
        .collect()
}

/// Whether every match of `hir` holds an ASCII digit: a digit literal, a
/// class of ASCII digits only, or a part that every match goes through.
fn requires_ascii_digit(hir: &Hir) -> bool {
    match hir.kind() {
        HirKind::Literal(lit) => lit.0.iter().any(u8::is_ascii_digit),
        HirKind::Class(Class::Unicode(c)) => c
            .ranges()
            .iter()
            .all(|r| r.start().is_ascii_digit() && r.end().is_ascii_digit()),
        HirKind::Class(Class::Bytes(c)) => c
            .ranges()
            .iter()
            .all(|r| r.start().is_ascii_digit() && r.end().is_ascii_digit()),
        HirKind::Capture(c) => requires_ascii_digit(&c.sub),
        HirKind::Repetition(r) => r.min >= 1 && requires_ascii_digit(&r.sub),
        HirKind::Concat(subs) => subs.iter().any(requires_ascii_digit),
        HirKind::Alternation(subs) => subs.iter().all(requires_ascii_digit),
        HirKind::Empty | HirKind::Look(_) => false,
    }
}

/// How little a clause says, to rank clauses (least first): rarer texts
/// hold its literals when its shortest literal is longer (up to a point,
/// past which words are all rare) and when it has fewer of them.
fn strength(clause: &[String]) -> (usize, usize) {
    let shortest = clause.iter().map(String::len).min().unwrap_or(0);
    (6usize.saturating_sub(shortest), clause.len())
}

/// Whether a clause is worth a search: no literal so short that nearly
/// every text holds it, and not too many literals.
fn useful(clause: &[String]) -> bool {
    clause.len() <= MAX_CLAUSE && clause.iter().all(|l| l.len() >= 2)
}

/// What a pattern forces into its matches: its full set of spellings when
/// small (`exact`, ASCII lower-case), and clauses of literals one of each
/// of which every match contains (`clauses`, in conjunction).
struct Required {
    exact: Option<Vec<String>>,
    clauses: Vec<Vec<String>>,
}

impl Required {
    fn of(hir: &Hir) -> Required {
        let exact = Required::of_exact;
        let nothing = Required {
            exact: None,
            clauses: Vec::new(),
        };
        match hir.kind() {
            HirKind::Empty | HirKind::Look(_) => exact(vec![String::new()]),
            HirKind::Literal(lit) => match std::str::from_utf8(&lit.0) {
                Ok(text) => exact(vec![text.to_ascii_lowercase()]),
                Err(_) => nothing,
            },
            HirKind::Class(class) => match class_members(class) {
                Some(chars) => {
                    let mut set: Vec<String> = chars
                        .into_iter()
                        .map(|c| c.to_ascii_lowercase().to_string())
                        .collect();
                    set.sort();
                    set.dedup();
                    exact(set)
                }
                None => nothing,
            },
            HirKind::Capture(c) => Required::of(&c.sub),
            HirKind::Repetition(r) if r.min == 1 && r.max == Some(1) => Required::of(&r.sub),
            HirKind::Repetition(r) if r.min >= 1 => Required {
                exact: None,
                clauses: Required::of(&r.sub).clauses,
            },
            HirKind::Repetition(_) => nothing,
            HirKind::Concat(subs) => {
                let mut clauses = Vec::new();
                // A run of adjacent parts with small spelling sets is one
                // literal set: their product (`q` `r` as `qr`).
                let mut run: Option<Vec<String>> = None;
                let mut whole: Option<Vec<String>> = Some(vec![String::new()]);
                let flush = |run: &mut Option<Vec<String>>, clauses: &mut Vec<Vec<String>>| {
                    if let Some(set) = run.take()
                        && useful(&set)
                    {
                        clauses.push(set);
                    }
                };
                for sub in subs {
                    let r = Required::of(sub);
                    clauses.extend(r.clauses);
                    match r.exact {
                        Some(set) => {
                            whole = whole.and_then(|w| product(&w, &set));
                            run = match run.take() {
                                None => Some(set),
                                Some(prev) => match product(&prev, &set) {
                                    Some(p) => Some(p),
                                    None => {
                                        flush(&mut Some(prev), &mut clauses);
                                        Some(set)
                                    }
                                },
                            };
                        }
                        None => {
                            whole = None;
                            flush(&mut run, &mut clauses);
                        }
                    }
                }
                flush(&mut run, &mut clauses);
                Required {
                    // `None` once a part was not spelled out.
                    exact: whole,
                    clauses,
                }
            }
            HirKind::Alternation(subs) => {
                let branches: Vec<Required> = subs.iter().map(Required::of).collect();
                let spelled = branches
                    .iter()
                    .try_fold(Vec::new(), |mut all: Vec<String>, b| {
                        all.extend(b.exact.clone()?);
                        (all.len() <= MAX_SPELLINGS).then_some(all)
                    });
                if let Some(set) = spelled {
                    let mut set = set;
                    set.sort();
                    set.dedup();
                    return exact(set);
                }
                // A match holds one branch's match, so one literal of
                // (a clause of each branch, joined). Few branches: every
                // choice of their best clauses; many: each one's best.
                let keep = match branches.len() {
                    0..=2 => 4,
                    3 => 2,
                    _ => 1,
                };
                let mut joined: Vec<Vec<String>> = vec![Vec::new()];
                for b in branches {
                    let mut own = b.clauses;
                    if own.is_empty() {
                        return nothing; // a branch that forces nothing
                    }
                    own.sort_by_key(|c| strength(c));
                    own.truncate(keep);
                    joined = joined
                        .iter()
                        .flat_map(|j| {
                            own.iter().map(move |c| {
                                let mut u = j.clone();
                                u.extend(c.iter().cloned());
                                u
                            })
                        })
                        .filter(|u| useful(u))
                        .collect();
                    if joined.is_empty() {
                        return nothing;
                    }
                }
                Required {
                    exact: None,
                    clauses: joined,
                }
            }
        }
    }

    fn of_exact(set: Vec<String>) -> Required {
        let clauses = if useful(&set) {
            vec![set.clone()]
        } else {
            Vec::new()
        };
        Required {
            exact: Some(set),
            clauses,
        }
    }
}

/// Every concatenation of a string of `a` with one of `b`, if few enough.
fn product(a: &[String], b: &[String]) -> Option<Vec<String>> {
    if a.len() * b.len() > MAX_SPELLINGS {
        return None;
    }
    let mut out: Vec<String> = a
        .iter()
        .flat_map(|x| b.iter().map(move |y| format!("{x}{y}")))
        .collect();
    out.sort();
    out.dedup();
    Some(out)
}

/// The characters of a class, if it has only a few (a letter and its case
/// variants); byte classes only when ASCII.
fn class_members(class: &Class) -> Option<Vec<char>> {
    let mut out = Vec::new();
    match class {
        Class::Unicode(c) => {
            for r in c.ranges() {
                for ch in r.start()..=r.end() {
                    out.push(ch);
                    if out.len() > MAX_CLASS_SPELLED {
                        return None;
                    }
                }
            }
        }
        Class::Bytes(c) => {
            for r in c.ranges() {
                for b in r.start()..=r.end() {
                    if !b.is_ascii() {
                        return None;
                    }
                    out.push(char::from(b));
                    if out.len() > MAX_CLASS_SPELLED {
                        return None;
                    }
                }
            }
        }
    }
    (!out.is_empty()).then_some(out)
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
    // Lower-cased, case spellings collapse (`shortest_cover` deduplicates).
    let mut full: Vec<String> = Vec::new();
    for lit in seq.literals()? {
        let text = std::str::from_utf8(lit.as_bytes()).ok()?;
        if text.is_empty() {
            return None; // some match starts with anything
        }
        full.push(text.to_ascii_lowercase());
    }
    if full.is_empty() {
        return None; // nothing known: scan
    }
    shortest_cover(full)
}

/// `literals` cut down to at most [`MAX_LITERALS`] prefixes that every one
/// of them starts with, each kept as long as it can be: the literals that
/// share the longest prefix merge into it first. `\$\s?\d` with Unicode
/// digits (hundreds of spellings) becomes `$`; in `(?:vip|premium)\s+signals|\d{2,3}%`,
/// the digit pairs merge into the ten digits and the words stay whole
/// (cutting every literal to one length made them `v` and `p`, found
/// inside most words). `None` when even one character each is too many.
fn shortest_cover(mut literals: Vec<String>) -> Option<Vec<String>> {
    literals.sort();
    literals.dedup();
    // A literal that extends another adds no candidate position: in sorted
    // order it follows the shortest literal it extends.
    let mut cover: Vec<String> = Vec::with_capacity(literals.len());
    for lit in literals {
        if !cover
            .last()
            .is_some_and(|kept| lit.starts_with(kept.as_str()))
        {
            cover.push(lit);
        }
    }
    // The common prefix of two neighbours, in bytes, cut to a character.
    fn common(a: &str, b: &str) -> usize {
        let n = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
        (0..=n).rev().find(|&i| a.is_char_boundary(i)).unwrap_or(0)
    }
    while cover.len() > MAX_LITERALS {
        let (at, len) = cover
            .windows(2)
            .enumerate()
            .map(|(i, w)| (i, common(&w[0], &w[1])))
            .max_by_key(|&(i, len)| (len, std::cmp::Reverse(i)))?;
        if len == 0 {
            return None; // too many distinct first characters
        }
        let prefix = cover[at][..len].to_string();
        // Sorted: the literals with this prefix are one run around `at`.
        let first = cover[..=at]
            .iter()
            .rposition(|l| !l.starts_with(prefix.as_str()))
            .map_or(0, |i| i + 1);
        let end = cover[at..]
            .iter()
            .position(|l| !l.starts_with(prefix.as_str()))
            .map_or(cover.len(), |i| at + i);
        cover.splice(first..end, [prefix]);
    }
    Some(cover)
}

/// The branches of `hir` that can match elsewhere than at the start of the
/// text, and whether some branch matches only there (starts with `^`
/// without `(?m)`). `None`: every branch matches only at the start.
fn split_start_branches(hir: &Hir) -> (Option<Hir>, bool) {
    use regex_syntax::hir::Look;
    let only_at_start = |h: &Hir| h.properties().look_set_prefix().contains(Look::Start);
    match hir.kind() {
        HirKind::Capture(c) => split_start_branches(&c.sub),
        HirKind::Alternation(subs) => {
            let rest: Vec<Hir> = subs.iter().filter(|h| !only_at_start(h)).cloned().collect();
            match rest.len() {
                n if n == subs.len() => (Some(hir.clone()), false),
                0 => (None, true),
                _ => (Some(Hir::alternation(rest)), true),
            }
        }
        _ if only_at_start(hir) => (None, true),
        _ => (Some(hir.clone()), false),
    }
}

/// When every branch of `hir` starts with a line start (`(?m)^`, not its
/// CRLF form), what follows it with leading optional runs of a class
/// (`[ \t]*`, `\s*?`) left out; `None` otherwise, or when nothing would
/// be left.
///
/// A match of such a branch that goes on at position `p` with what
/// follows can start at the line start nearest before `p`: what lies
/// between the two is a suffix of what the runs matched, and a suffix of
/// runs of classes is such runs too. So the regex, tried anchored at the
/// start of the line where a literal of what follows is found, finds
/// every match there is.
fn after_line_starts(hir: &Hir) -> Option<Hir> {
    use regex_syntax::hir::Look;
    match hir.kind() {
        HirKind::Capture(c) => after_line_starts(&c.sub),
        HirKind::Alternation(subs) => Some(Hir::alternation(
            subs.iter()
                .map(after_line_starts)
                .collect::<Option<Vec<_>>>()?,
        )),
        HirKind::Concat(subs) => {
            let (first, rest) = subs.split_first()?;
            if !matches!(first.kind(), HirKind::Look(Look::StartLF)) || rest.is_empty() {
                return None;
            }
            Some(without_leading_runs(&Hir::concat(rest.to_vec())))
        }
        _ => None,
    }
}

/// `hir` without the optional runs of a class it starts with, in each
/// branch where it starts with an alternation (regex-syntax factors
/// `(?m)^\s*a|(?m)^[ \t]*b` into `(?m)^(?:\s*a|[ \t]*b)`).
fn without_leading_runs(hir: &Hir) -> Hir {
    match hir.kind() {
        HirKind::Repetition(r) if r.min == 0 && matches!(r.sub.kind(), HirKind::Class(_)) => {
            Hir::empty()
        }
        HirKind::Capture(c) => without_leading_runs(&c.sub),
        HirKind::Alternation(subs) => {
            Hir::alternation(subs.iter().map(without_leading_runs).collect())
        }
        HirKind::Concat(subs) => {
            let mut rest: Vec<Hir> = subs
                .iter()
                .skip_while(|h| matches!(h.kind(), HirKind::Repetition(r) if r.min == 0 && matches!(r.sub.kind(), HirKind::Class(_))))
                .cloned()
                .collect();
            if let Some(first) = rest.first_mut()
                && matches!(first.kind(), HirKind::Alternation(_) | HirKind::Capture(_))
            {
                *first = without_leading_runs(first);
            }
            Hir::concat(rest)
        }
        _ => hir.clone(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_cut_only_where_there_are_too_many() {
        let lits = |p: &str| leading_literals(p).expect("pattern has leading literals");
        // Of 100 digit pairs, enough merge into their first digit to fit;
        // the words stay whole.
        let signals = lits(r"(?i)\b(?:vip|premium)\s+signals\b|\b[0-9]{2}\s?%");
        assert!(signals.len() <= MAX_LITERALS, "{signals:?}");
        assert!(signals.contains(&"vip".into()) && signals.contains(&"premium".into()));
        assert!(
            signals
                .iter()
                .filter(|l| !["vip", "premium"].contains(&l.as_str()))
                .all(|l| (1..=2).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_digit())),
            "{signals:?}"
        );
        // 1,000 digit triples: at most the ten digits and the pairs of a few.
        let triples = lits(r"(?i)\bvip\s+signals\b|\b[0-9]{3}\s?%");
        assert!(triples.len() <= MAX_LITERALS && triples.contains(&"vip".into()));
        // A literal that extends another is left out.
        assert_eq!(lits(r"(?i)\b(?:adv|ad)\s*:"), ["ad"]);
        // Too many distinct first characters: none.
        let many: Vec<String> = (0x4e00u32..0x4e00 + 70)
            .filter_map(char::from_u32)
            .map(String::from)
            .collect();
        assert!(leading_literals(&many.join("|")).is_none());
    }

    #[test]
    fn branches_anchored_at_the_start_are_tried_there() {
        let p = plan(r"(?i)^\s*(?:adv|ad)\s*[:\-]|\(adv\)|\[adv\]").expect("valid");
        assert!(p.at_start);
        assert_eq!(p.literals, Some(vec!["(adv)".into(), "[adv]".into()]));
        let p = plan(r"^\s*hello").expect("valid");
        assert!(p.at_start);
        assert_eq!(p.literals, Some(vec![]));
        // Multi-line `^` matches at every line start: found by literals.
        let p = plan(r"(?m)^[ \t]*>").expect("valid");
        assert!(!p.at_start);
        assert!(p.literals.is_some_and(|l| l.contains(&">".into())));
        assert!(!plan(r"\bfree\b").expect("valid").at_start);
    }

    #[test]
    fn line_start_branches_are_found_by_what_follows_their_runs() {
        let table: &[(&str, Option<&[&str]>)] = &[
            (r"(?m)^[ \t]*>", Some(&[">"])),
            (
                r"(?m)^\s*(?:share\s+|stock\s+)?price\s*:",
                Some(&["price", "share", "stock"]),
            ),
            (r"(?m)^\s*-{2,}\s*$|(?m)^[ \t]*>", Some(&["--", ">"])),
            // Not every branch at a line start, or nothing after the runs,
            // or a run that must match: found as before.
            (r"(?m)^[ \t]*>|\bfree\b", None),
            (r"(?m)^\s*$", None),
            (r"(?m)^\s+>", None),
            (r"^[ \t]*>", None),
        ];
        for (pattern, want) in table {
            let p = plan(pattern).expect("valid");
            match want {
                Some(want) => {
                    assert!(p.line_start, "{pattern}");
                    let want: Vec<Literal> = want.iter().map(|l| Literal::from(*l)).collect();
                    assert_eq!(p.literals, Some(want), "{pattern}");
                }
                None => assert!(!p.line_start, "{pattern}"),
            }
        }
    }

    fn required(pattern: &str) -> Vec<Vec<String>> {
        required_literals_of(&parse(pattern).expect("valid pattern"))
    }

    #[test]
    fn literals_every_match_holds() {
        let owned = |clauses: &[&[&str]]| -> Vec<Vec<String>> {
            clauses
                .iter()
                .map(|c| c.iter().map(|s| s.to_string()).collect())
                .collect()
        };
        let table: &[(&str, &[&[&str]])] = &[
            // A concatenation forces each of its parts, adjacent ones
            // joined (which implies each alone).
            (
                r"scan\s+(?:qr|q\.r\.) code",
                &[&["scan"], &["q.r. code", "qr code"]],
            ),
            // An alternation forces one of its branches' literals.
            (r"viagra|cialis", &[&["cialis", "viagra"]]),
            (
                r"\bcheap\W+(?:\w+\W+){0,2}?(?:xanax|valium)\b|\bviagra",
                &[&["cheap", "viagra"], &["valium", "viagra", "xanax"]],
            ),
            // Letters of either case are one literal; `(?i)s` also
            // matches LONG S, spelled out.
            (r"(?i)qr", &[&["qr"]]),
            (r"(?i)best", &[&["best", "beſt"]]),
            // Optional parts and unbounded classes force nothing.
            (r"a(?:bc)?d", &[]),
            (r"[a-z]+@", &[]),
            // A branch that forces nothing: nothing is forced.
            (r"wallet|\d+", &[]),
            // One-byte literals are not worth a search.
            (r"\$\d", &[]),
            // A clause another implies is left out.
            (
                r"(?:eligible|entitled) for a refund",
                &[&["eligible for a refund", "entitled for a refund"]],
            ),
        ];
        for (pattern, want) in table {
            let mut got = required(pattern);
            let mut want = owned(want);
            got.sort();
            want.sort();
            assert_eq!(got, want, "{pattern}");
        }
    }
}
