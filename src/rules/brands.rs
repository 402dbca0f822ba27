//! Brand impersonation: a display name that names a company scammers pose
//! as, on mail from a domain that is not the company's.
//!
//! A brand's own mail comes from domains that carry its name (`paypal.com`,
//! `mail.paypal.co.uk`, `email.informeddelivery.usps.com`,
//! `facebookmail.com`), so the test asks whether the From address's
//! organisation (its registrable domain) carries one of the brand's names;
//! "McAfee <support@snowymespilus.com>" does not. It does not catch a
//! look-alike domain that carries the name (`paypal-secure.example`);
//! `FROM_LOOKALIKE_DOMAIN` does.
//!
//! The brands are data: `[[brand]]` entries of the rule files (the default
//! ones in `rules/brands.toml`), so a site adds its own bank or its own
//! name in a local rule file.

use super::format::Text;
use crate::message::host::Host;

/// One brand: the display names that name it (as [`words`] gives them,
/// without the spaces at the ends) and the names its own domains carry
/// (lower-case, no hyphens).
#[derive(Debug, Clone, PartialEq)]
struct Brand {
    brand: Text,
    display_names: Vec<Text>,
    domains: Vec<Text>,
}

/// A `[[brand]]` entry as written.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    brand: Text,
    display_names: Vec<Text>,
    domains: Vec<Text>,
}

/// The brands of a rule set (`[[brand]]` entries of its rule files; the
/// default ones are in `rules/brands.toml`).
///
/// The entries are kept as written and looked up through a table built
/// when a message first asks: only email tests read brands, and building
/// the table for a `spamsift check` of an SMS was 7% of that process.
#[derive(Debug, Clone, Default)]
pub struct BrandTable {
    entries: Vec<Entry>,
    table: std::sync::OnceLock<Table>,
}

impl PartialEq for BrandTable {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

/// The brands, merged by name, with their display names indexed.
#[derive(Debug, Clone, Default)]
struct Table {
    brands: Vec<Brand>,
    /// Each display name by its first word: (brand, display name), so a
    /// subject's words are looked up instead of every name searched for
    /// (searching for each of some 150 names was 3% of the milter's time).
    by_first_word: rustc_hash::FxHashMap<Text, Vec<(usize, usize)>>,
    /// Display names written in Chinese, Japanese or Korean script, by
    /// their first character. These scripts put no space between words
    /// ("楽天カード株式会社" is one run of letters), so such a name matches
    /// at the start of a word, not only as a whole one.
    cjk_by_first_char: rustc_hash::FxHashMap<char, Vec<(usize, usize)>>,
}

/// Whether `s` is one or more lower-case ASCII letters and digits: a
/// display-name word or a domain name written as it is read.
fn lower_alnum(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// The part of `text` that `pick` takes, still borrowed from the binary
/// when `text` is.
fn part(text: &Text, pick: impl for<'a> Fn(&'a str) -> &'a str) -> Text {
    match text {
        Text::Borrowed(t) => Text::Borrowed(pick(t)),
        Text::Owned(t) => Text::Owned(pick(t).to_string()),
    }
}

/// A brand entry's display names as [`words`] (trimmed) and its domains
/// as the names they carry; an entry that could never match is an error,
/// said in one line.
fn parse_entry(display_names: &[Text], domains: &[Text]) -> Result<(Vec<Text>, Vec<Text>), String> {
    let mut names = Vec::with_capacity(display_names.len());
    for n in display_names {
        // Written as `words` would give it (lower-case ASCII words, single
        // spaces; nearly every entry): kept, not copied.
        if n.split(' ').all(lower_alnum) {
            names.push(n.clone());
            continue;
        }
        let w = words(n);
        let w = w.trim();
        if w.is_empty() {
            return Err(format!("display name {n:?} has no letters or digits"));
        }
        if w.chars().any(is_cjk) && w.contains(' ') {
            return Err(format!(
                "display name {n:?} in Chinese, Japanese or Korean script must be one run of letters (it matches at the start of a word)"
            ));
        }
        names.push(Text::Owned(w.to_string()));
    }
    let mut doms = Vec::with_capacity(domains.len());
    for d in domains {
        if lower_alnum(d) {
            doms.push(d.clone());
            continue;
        }
        let label: String = d
            .chars()
            .filter(|&c| c != '-')
            .flat_map(char::to_lowercase)
            .collect();
        if label.is_empty() || !label.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!(
                "domain {d:?} must be a name the brand's domains carry: letters, digits and hyphens (\"paypal\", not \"paypal.com\")"
            ));
        }
        doms.push(Text::Owned(label));
    }
    Ok((names, doms))
}

impl BrandTable {
    /// Add a brand, or add to one listed under the same `brand` name (any
    /// case). Display names are read as whole words, any case; domains are
    /// DNS labels' letters and digits (hyphens ignored). An entry that
    /// could never match is an error, said in one line.
    pub fn add(
        &mut self,
        brand: &str,
        display_names: &[Text],
        domains: &[Text],
    ) -> Result<(), String> {
        let brand = brand.trim();
        if brand.is_empty() {
            return Err("brand must name the brand".into());
        }
        let (names, doms) = parse_entry(display_names, domains)?;
        let known = self
            .entries
            .iter()
            .any(|e| e.brand.eq_ignore_ascii_case(brand));
        if !known && (names.is_empty() || doms.is_empty()) {
            return Err(format!(
                "brand {brand:?} needs display_names and domains (a new brand matches nothing without both)"
            ));
        }
        self.add_checked(
            brand.to_string().into(),
            display_names.to_vec(),
            domains.to_vec(),
        );
        Ok(())
    }

    /// Add an entry known to be valid (the embedded default rules', which
    /// the test `embedded_rules_validate` checks): kept as written, read
    /// when a message first asks.
    pub(crate) fn add_checked(
        &mut self,
        brand: Text,
        display_names: Vec<Text>,
        domains: Vec<Text>,
    ) {
        self.entries.push(Entry {
            brand: part(&brand, str::trim),
            display_names,
            domains,
        });
        self.table = std::sync::OnceLock::new();
    }

    /// The table of every entry, built on first use.
    fn table(&self) -> &Table {
        self.table.get_or_init(|| {
            let mut t = Table::default();
            for e in &self.entries {
                // Every entry was checked by `add` or when spamsift was
                // built; one that fails here is left out.
                if let Ok((names, doms)) = parse_entry(&e.display_names, &e.domains) {
                    t.insert(&e.brand, names, doms);
                }
            }
            t
        })
    }

    /// Each brand: its name, the display names that name it (lower-case
    /// words) and the names its domains carry, in load order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[Text], &[Text])> {
        self.table()
            .brands
            .iter()
            .map(|b| (&*b.brand, b.display_names.as_slice(), b.domains.as_slice()))
    }

    /// Brands listed.
    pub fn len(&self) -> usize {
        self.table().brands.len()
    }

    /// Whether no brand is listed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether the display name `name` opens with a brand ("McAfee",
    /// "Microsoft 365 Admin", "Trust Wallet Support") and the From domain
    /// `from` is not one of that brand's. A brand further in is a
    /// newsletter or a person writing about it ("Lockergnome Apple Core").
    pub(crate) fn impersonates(&self, name: &str, from: &Host) -> bool {
        self.named(name, from, true)
    }

    /// Whether `text` (a subject) names a brand anywhere, as whole words,
    /// and the From domain `from` is not one of that brand's: "Action
    /// Required: Verify your Trust Wallet" from `ucv.edu.pe`.
    pub(crate) fn named_by_another(&self, text: &str, from: &Host) -> bool {
        self.named(text, from, false)
    }

    /// Whether `text`'s words hold a brand's display name (at their start
    /// only, with `opening`) and `from` is not one of that brand's domains.
    fn named(&self, text: &str, from: &Host, opening: bool) -> bool {
        if from.ip().is_some() || self.entries.is_empty() {
            return false;
        }
        self.table().named(text, from, opening)
    }
}

impl Table {
    /// Add a parsed entry to the brand of that name, or as a new brand.
    fn insert(&mut self, brand: &Text, names: Vec<Text>, doms: Vec<Text>) {
        let index = match self
            .brands
            .iter()
            .position(|b| b.brand.eq_ignore_ascii_case(brand))
        {
            Some(i) => i,
            None => {
                self.brands.push(Brand {
                    brand: brand.clone(),
                    display_names: Vec::new(),
                    domains: Vec::new(),
                });
                self.brands.len() - 1
            }
        };
        let b = &mut self.brands[index];
        for name in names {
            let at = (index, b.display_names.len());
            match name.chars().next() {
                Some(c) if name.chars().any(is_cjk) => {
                    self.cjk_by_first_char.entry(c).or_default().push(at)
                }
                _ => {
                    let first = part(&name, |n| n.split(' ').next().unwrap_or_default());
                    self.by_first_word.entry(first).or_default().push(at)
                }
            }
            b.display_names.push(name);
        }
        b.domains.extend(doms);
    }

    fn named(&self, text: &str, from: &Host, opening: bool) -> bool {
        let said = words(text);
        let said: Vec<&str> = said.split(' ').filter(|w| !w.is_empty()).collect();
        let starts = if opening {
            &said[..said.len().min(1)]
        } else {
            &said[..]
        };
        starts.iter().enumerate().any(|(i, w)| {
            let whole_words = self.by_first_word.get(*w).is_some_and(|names| {
                names.iter().any(|&(b, n)| {
                    let brand = &self.brands[b];
                    let mut rest = said[i..].iter();
                    brand.display_names[n]
                        .split(' ')
                        .all(|nw| rest.next() == Some(&nw))
                        && !carries(from.organisation(), &brand.domains)
                })
            });
            whole_words
                || w.chars()
                    .next()
                    .and_then(|c| self.cjk_by_first_char.get(&c))
                    .is_some_and(|names| {
                        names.iter().any(|&(b, n)| {
                            let brand = &self.brands[b];
                            w.starts_with(&*brand.display_names[n])
                                && !carries(from.organisation(), &brand.domains)
                        })
                    })
        })
    }
}

/// The Latin letter a Greek or Cyrillic look-alike stands for ("Αpple"
/// with a Greek Alpha, "Місrоsоft" with Cyrillic letters, "Lеԁgеr"),
/// lower-case; `None` for any other character. The one table of
/// look-alikes: brand names and the `latin_lookalike_words` test read it.
pub(crate) fn latin_lookalike(c: char) -> Option<char> {
    Some(match c {
        'Α' | 'α' | 'А' | 'а' => 'a',
        'Β' | 'В' | 'в' => 'b',
        'ԁ' => 'd',
        'Ε' | 'ε' | 'Е' | 'е' => 'e',
        'Η' | 'Н' | 'н' | 'һ' => 'h',
        'Ι' | 'ι' | 'І' | 'і' => 'i',
        'Κ' | 'κ' | 'К' | 'к' => 'k',
        'ӏ' => 'l',
        'Μ' | 'М' | 'м' => 'm',
        'Ν' => 'n',
        'Ο' | 'ο' | 'О' | 'о' => 'o',
        'Ρ' | 'ρ' | 'Р' | 'р' => 'p',
        'ԛ' => 'q',
        'С' | 'с' => 'c',
        'Τ' | 'Т' | 'т' => 't',
        'ν' => 'v',
        'ԝ' => 'w',
        'Υ' | 'υ' | 'У' | 'у' | 'ү' => 'y',
        'Χ' | 'χ' | 'Х' | 'х' => 'x',
        'Ζ' => 'z',
        'Ѕ' | 'ѕ' => 's',
        'Ј' | 'ј' => 'j',
        _ => return None,
    })
}

/// Whether `c` is a Han character, kana or a Hangul syllable: a brand
/// name in these scripts matches at the start of a word.
fn is_cjk(c: char) -> bool {
    crate::bayes::tokenizer::is_chinese_or_japanese(c) || ('\u{AC00}'..='\u{D7AF}').contains(&c)
}

/// `c`, or the Latin letter it imitates.
fn unconfused(c: char) -> char {
    latin_lookalike(c).unwrap_or(c)
}

/// A display name as lower-case words separated by single spaces, with a
/// space at each end (so " word " finds whole words); Greek and Cyrillic
/// look-alikes read as the Latin letters they imitate.
fn words(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push(' ');
    for w in name
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        out.extend(w.chars().map(unconfused).flat_map(char::to_lowercase));
        out.push(' ');
    }
    out
}

/// Whether an organisation (`snowymespilus.com`) carries one of a brand's
/// domain names: a long name anywhere in its first label (hyphens
/// ignored), a short one (three letters or fewer) as the whole label.
fn carries(organisation: &str, domains: &[Text]) -> bool {
    let label: String = organisation
        .split('.')
        .next()
        .unwrap_or("")
        .chars()
        .filter(|&c| c != '-')
        .collect();
    domains.iter().any(|d| {
        if d.len() <= 3 {
            label == *d
        } else {
            label.contains(&**d)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_brand_from_a_domain_not_its_own() {
        let cases = [
            ("McAfee™", "support@snowymespilus.com", true),
            ("Microsoft 365 Admin", "admin@mail-notify.example", true),
            ("Total AV Support", "noreply@calungas.com", true),
            ("Bradesco", "noreply@bradesco.com.br", false),
            ("PayPal", "service@intl.paypal.com", false),
            ("Amazon.co.uk", "order-update@amazon.co.uk", false),
            (
                "USPS Informed Delivery",
                "x@email.informeddelivery.usps.com",
                false,
            ),
            ("Facebook", "notification@facebookmail.com", false),
            ("UPS", "mcinfo@ups.com", false),
            ("UPS", "tracking@upsnotify.example", true),
            // A person called Chase is no bank; a word inside another is no brand.
            ("Chase Whitfield", "chase@example.org", false),
            ("Groups Admin", "admin@example.org", false),
            ("Jane via DocuSign", "dse_na2@docusign.net", false),
            // A newsletter about a brand names it further in.
            (
                "Lockergnome Apple Core",
                "subscriptions@lockergnome.com",
                false,
            ),
            ("Apple Support", "help@secure-id-check.example", true),
            // Brazil's agencies sit under public suffixes such as sp.gov.br.
            ("DETRAN SP", "noreply@detran.sp.gov.br", false),
            ("Receita Federal", "aviso@regularizacao-cpf.example", true),
            (
                "Receita Federal",
                "atendimento@receita.fazenda.gov.br",
                false,
            ),
            ("Livelo", "contato@news.livelo.com.br", false),
            ("Ledger", "security@ledger-support.example", false),
            ("Ledger Live", "updates@wallet-sync.example", true),
            // Look-alike letters: a Greek Alpha, Cyrillic с and о.
            ("\u{391}pple ID", "id@verify-now.example", true),
            ("Mi\u{441}r\u{43e}soft Teams", "teams@notify.example", true),
            // Japanese names run on without spaces ("Rakuten Card Co., Ltd.").
            ("楽天カード株式会社", "info@mail.rakuten-card.co.jp", false),
            ("楽天カード株式会社", "info@jp-secure-login.com", true),
            ("【楽天市場】", "order@shop-rakuten.example", false),
            ("三井住友カード", "mail@vpass.ne.jp", false),
            ("三井住友カード", "notice@smbc-card-info.xyz", false),
            ("三井住友カード", "notice@card-notice.xyz", true),
            ("ヤマト運輸", "info@kuronekoyamato.co.jp", false),
            ("ヤマト運輸", "info@delivery-check.top", true),
            ("国税庁", "e-tax@nta.go.jp", false),
            ("国税庁 e-Tax", "info@tax-refund-jp.example", true),
            // A chemist's "イオン交換" (ion exchange) is no AEON card.
            ("イオン交換樹脂センター", "info@chem.example", false),
            ("イオンカード", "info@aeon-card-alert.example", false),
            ("イオンカード", "info@card-alert.example", true),
            // A brand further inside a Japanese name is no opening.
            ("株式会社楽天", "info@example.co.jp", false),
        ];
        let rules = crate::rules::RuleSet::defaults().expect("default rules");
        for (name, address, want) in cases {
            let host = Host::of_address(address).expect("valid address");
            assert_eq!(
                rules.brands().impersonates(name, &host),
                want,
                "{name} <{address}>"
            );
        }
    }

    #[test]
    fn a_subject_naming_a_brand_from_a_domain_not_its_own() {
        let cases = [
            (
                "Action Required: Verify your Trust Wallet !",
                "x@ucv.edu.pe",
                true,
            ),
            (
                "Update required - Netflix account on hold",
                "a@linden.tangoo.shop",
                true,
            ),
            (
                "Your Netflix payment failed",
                "info@mailer.netflix.com",
                false,
            ),
            // Whole words only: "Applebee's" is no Apple, "groups" no UPS.
            ("Applebee's coupons inside", "deals@news.example", false),
            ("New groups to join", "admin@example.org", false),
            ("Re: PayPal dispute", "friend@example.org", true),
        ];
        let rules = crate::rules::RuleSet::defaults().expect("default rules");
        for (subject, address, want) in cases {
            let host = Host::of_address(address).expect("valid address");
            assert_eq!(
                rules.brands().named_by_another(subject, &host),
                want,
                "{subject} / {address}"
            );
        }
    }
}
