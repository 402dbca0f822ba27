//! Meta rules: boolean expressions over other rules.
//!
//! Grammar (`||` binds loosest):
//! ```text
//! expr    := and ( "||" and )*
//! and     := unary ( "&&" unary )*
//! unary   := "!" unary | primary
//! primary := RULE_ID | "(" expr ")" | N "of" "(" expr ( "," expr )* ")"
//! ```

use super::matcher::HitSet;

/// A parsed expression; rule references are by name until resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr<R> {
    /// True when the rule hit.
    Rule(R),
    /// Negation.
    Not(Box<Expr<R>>),
    /// All must hold.
    And(Vec<Expr<R>>),
    /// Any must hold.
    Or(Vec<Expr<R>>),
    /// At least N of the list hold.
    AtLeast(usize, Vec<Expr<R>>),
}

impl<R> Expr<R> {
    /// Every rule reference, in order.
    pub fn refs(&self, out: &mut Vec<R>)
    where
        R: Clone,
    {
        match self {
            Expr::Rule(r) => out.push(r.clone()),
            Expr::Not(e) => e.refs(out),
            Expr::And(v) | Expr::Or(v) | Expr::AtLeast(_, v) => v.iter().for_each(|e| e.refs(out)),
        }
    }

    /// Replace references using `f`.
    pub fn map<S, E>(self, f: &mut impl FnMut(R) -> Result<S, E>) -> Result<Expr<S>, E> {
        Ok(match self {
            Expr::Rule(r) => Expr::Rule(f(r)?),
            Expr::Not(e) => Expr::Not(Box::new(e.map(f)?)),
            Expr::And(v) => Expr::And(v.into_iter().map(|e| e.map(f)).collect::<Result<_, _>>()?),
            Expr::Or(v) => Expr::Or(v.into_iter().map(|e| e.map(f)).collect::<Result<_, _>>()?),
            Expr::AtLeast(n, v) => Expr::AtLeast(
                n,
                v.into_iter().map(|e| e.map(f)).collect::<Result<_, _>>()?,
            ),
        })
    }

    /// Evaluate with `hit` telling whether a referenced rule hit.
    pub fn eval(&self, hit: &impl Fn(&R) -> bool) -> bool {
        match self {
            Expr::Rule(r) => hit(r),
            Expr::Not(e) => !e.eval(hit),
            Expr::And(v) => v.iter().all(|e| e.eval(hit)),
            Expr::Or(v) => v.iter().any(|e| e.eval(hit)),
            Expr::AtLeast(n, v) => v.iter().filter(|e| e.eval(hit)).take(*n).count() >= *n,
        }
    }
}

/// A resolved meta rule as it runs on a message: the rule, its expression
/// and, unless the expression holds when none of the rules it reads hit
/// (a negation can), the bits of those rules by [`HitSet`] word. A message
/// that hit none of them skips the expression: most metas read a few rules
/// that most messages do not hit, and walking every expression tree was 6%
/// of classifying an SMS.
#[derive(Debug, Clone)]
pub struct Gated {
    /// The meta rule's index.
    pub rule: usize,
    expr: Expr<usize>,
    gate: Option<Vec<(usize, u64)>>,
}

impl Gated {
    /// Gate `expr`, the expression of meta rule `rule`.
    pub fn new(rule: usize, expr: Expr<usize>) -> Gated {
        let gate = (!expr.eval(&|_| false)).then(|| {
            let mut refs = Vec::new();
            expr.refs(&mut refs);
            let mut words: Vec<(usize, u64)> = Vec::new();
            for r in refs {
                let (w, bit) = (r / 64, 1u64 << (r % 64));
                match words.iter_mut().find(|(x, _)| *x == w) {
                    Some((_, m)) => *m |= bit,
                    None => words.push((w, bit)),
                }
            }
            words
        });
        Gated { rule, expr, gate }
    }

    /// Whether the meta rule holds given the rules hit so far.
    #[inline]
    pub fn holds(&self, hits: &HitSet) -> bool {
        if let Some(gate) = &self.gate
            && !gate.iter().any(|&(w, m)| hits.word(w) & m != 0)
        {
            return false;
        }
        self.expr.eval(&|r: &usize| hits.get(*r))
    }
}

/// A token of a meta expression; names are borrowed from the expression.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Token<'a> {
    Ident(&'a str),
    Number(usize),
    Of,
    And,
    Or,
    Not,
    Open,
    Close,
    Comma,
}

fn tokenize(s: &str) -> Result<Vec<Token<'_>>, String> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | ',' | '!' => {
                chars.next();
                out.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    ',' => Token::Comma,
                    _ => Token::Not,
                });
            }
            '&' | '|' => {
                chars.next();
                match chars.next() {
                    Some((_, d)) if d == c => {
                        out.push(if c == '&' { Token::And } else { Token::Or })
                    }
                    _ => return Err(format!("expected {c}{c} at position {i}")),
                }
            }
            c if c.is_ascii_alphanumeric() || c == '_' => {
                let mut end = i;
                while let Some(&(j, d)) = chars.peek() {
                    if d.is_ascii_alphanumeric() || d == '_' {
                        end = j + d.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                let word = &s[i..end];
                if word == "of" {
                    out.push(Token::Of);
                } else if word.bytes().all(|b| b.is_ascii_digit()) {
                    let n = word
                        .parse()
                        .map_err(|_| format!("number {word} too large"))?;
                    out.push(Token::Number(n));
                } else {
                    out.push(Token::Ident(word));
                }
            }
            other => return Err(format!("unexpected character {other:?} at position {i}")),
        }
    }
    Ok(out)
}

/// Deepest nesting of parentheses, `N of (...)` lists and `!` in one
/// expression: the parser and the evaluator recurse once per level, and a
/// fuzzed rule file of 5,000 parentheses overflowed the stack.
const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    tokens: Vec<Token<'a>>,
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    /// Go one level deeper, or fail past [`MAX_DEPTH`].
    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("expression nested deeper than {MAX_DEPTH} levels"));
        }
        Ok(())
    }
    fn peek(&self) -> Option<&Token<'a>> {
        self.tokens.get(self.pos)
    }
    fn next(&mut self) -> Option<Token<'a>> {
        let t = self.tokens.get(self.pos).copied();
        self.pos += 1;
        t
    }
    fn expect(&mut self, t: Token<'a>, what: &str) -> Result<(), String> {
        match self.next() {
            Some(ref got) if *got == t => Ok(()),
            Some(got) => Err(format!("expected {what}, found {got:?}")),
            None => Err(format!("expected {what}, found end of expression")),
        }
    }
    // A term without `||` (or a factor without `&&`) is returned as it is,
    // with no list allocated for it: each name of every meta rule passes
    // through both at every start of `spamsift check`.
    fn or(&mut self) -> Result<Expr<String>, String> {
        let first = self.and()?;
        if self.peek() != Some(&Token::Or) {
            return Ok(first);
        }
        let mut v = vec![first];
        while self.peek() == Some(&Token::Or) {
            self.next();
            v.push(self.and()?);
        }
        Ok(Expr::Or(v))
    }
    fn and(&mut self) -> Result<Expr<String>, String> {
        let first = self.unary()?;
        if self.peek() != Some(&Token::And) {
            return Ok(first);
        }
        let mut v = vec![first];
        while self.peek() == Some(&Token::And) {
            self.next();
            v.push(self.unary()?);
        }
        Ok(Expr::And(v))
    }
    fn unary(&mut self) -> Result<Expr<String>, String> {
        if self.peek() == Some(&Token::Not) {
            self.next();
            self.enter()?;
            let e = Expr::Not(Box::new(self.unary()?));
            self.depth -= 1;
            return Ok(e);
        }
        self.primary()
    }
    fn primary(&mut self) -> Result<Expr<String>, String> {
        match self.next() {
            Some(Token::Ident(id)) => Ok(Expr::Rule(id.to_string())),
            Some(Token::Open) => {
                self.enter()?;
                let e = self.or()?;
                self.expect(Token::Close, "')'")?;
                self.depth -= 1;
                Ok(e)
            }
            Some(Token::Number(n)) => {
                self.expect(Token::Of, "'of' after a number")?;
                self.expect(Token::Open, "'(' after 'of'")?;
                self.enter()?;
                let mut v = vec![self.or()?];
                while self.peek() == Some(&Token::Comma) {
                    self.next();
                    v.push(self.or()?);
                }
                self.expect(Token::Close, "')' closing the 'of' list")?;
                self.depth -= 1;
                if n == 0 || n > v.len() {
                    return Err(format!(
                        "{n} of a list of {} can never be meaningful",
                        v.len()
                    ));
                }
                Ok(Expr::AtLeast(n, v))
            }
            Some(t) => Err(format!("unexpected {t:?}")),
            None => Err("unexpected end of expression".into()),
        }
    }
}

/// Parse a meta expression; rule references stay as names.
pub fn parse(s: &str) -> Result<Expr<String>, String> {
    let tokens = tokenize(s)?;
    if tokens.is_empty() {
        return Err("empty meta expression".into());
    }
    let mut p = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    let e = p.or()?;
    if let Some(t) = p.peek() {
        return Err(format!("unexpected {t:?} after a complete expression"));
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(expr: &str, hits: &[&str]) -> bool {
        parse(expr)
            .expect("valid meta expression")
            .eval(&|r: &String| hits.contains(&r.as_str()))
    }

    #[test]
    fn precedence_and_negation() {
        assert!(eval("A || B && C", &["A"]));
        assert!(!eval("(A || B) && C", &["A"]));
        assert!(eval("A && !B", &["A"]));
        assert!(!eval("A && !B", &["A", "B"]));
        assert!(eval("!!A", &["A"]));
    }

    #[test]
    fn gated_metas_agree_with_their_expression() {
        // Rule names are indices: R0 .. R199, so references span words.
        let exprs = [
            "R1 && R70",
            "R1 || R130",
            "!R5",
            "R2 && !R3",
            "!(R2 && R3)",
            "2 of (R0, R64, R128)",
            "R199",
        ];
        let hit_sets: [&[usize]; 6] = [&[], &[1], &[1, 70], &[2], &[2, 3], &[0, 128, 199]];
        for text in exprs {
            let named = parse(text).expect("valid meta expression");
            let expr = named
                .map(&mut |r: String| r[1..].parse::<usize>())
                .expect("numbered rules");
            let gated = Gated::new(7, expr.clone());
            for set in hit_sets {
                let mut hits = HitSet::new(200);
                set.iter().for_each(|&i| hits.set(i));
                assert_eq!(
                    gated.holds(&hits),
                    expr.eval(&|r: &usize| hits.get(*r)),
                    "{text} with {set:?}"
                );
            }
        }
    }

    #[test]
    fn n_of() {
        assert!(eval("2 of (A, B, C)", &["A", "C"]));
        assert!(!eval("2 of (A, B, C)", &["B"]));
        assert!(eval("2 of (A, B && C, D) || E", &["E"]));
        assert!(eval("2 of (A, B && C, D)", &["B", "C", "D"]));
    }

    #[test]
    fn nesting_is_bounded() {
        let ok = format!("{}A{}", "(".repeat(60), ")".repeat(60));
        assert!(parse(&ok).is_ok());
        for deep in [
            format!("{}A{}", "(".repeat(5000), ")".repeat(5000)),
            format!("{}A", "!".repeat(5000)),
            format!("{}A{}", "1 of (".repeat(100), ")".repeat(100)),
        ] {
            let e = parse(&deep).expect_err("too deep");
            assert!(e.contains("nested deeper"), "{e}");
        }
    }

    #[test]
    fn errors() {
        for bad in [
            "",
            "A &&",
            "A & B",
            "(A",
            "A B",
            "3 of (A, B)",
            "2 (A, B)",
            "A + B",
            "0 of (A)",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
    }
}
