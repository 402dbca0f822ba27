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

use crate::message::host::Host;

/// One brand: the words that name it in a display name (lower-case, whole
/// words), and the names its own domains carry (longer than three letters:
/// anywhere in the organisation's name; else the whole first label).
struct Brand {
    names: &'static [&'static str],
    domains: &'static [&'static str],
}

/// Companies most impersonated in phishing (the 2020s' lures: mailboxes,
/// payments, parcels, banks, security software, wallets, tax offices).
/// Generic senders ("IT support", "billing") are not brands and are left
/// to other rules.
const BRANDS: &[Brand] = &[
    Brand {
        names: &[
            "microsoft",
            "microsoft 365",
            "office 365",
            "office365",
            "outlook",
            "onedrive",
            "sharepoint",
        ],
        domains: &[
            "microsoft",
            "office",
            "outlook",
            "live",
            "hotmail",
            "onedrive",
            "sharepoint",
            "msn",
        ],
    },
    Brand {
        names: &["paypal"],
        domains: &["paypal"],
    },
    Brand {
        names: &["apple", "apple id", "icloud", "itunes", "app store"],
        domains: &["apple", "icloud", "itunes"],
    },
    Brand {
        names: &["amazon", "amazon prime", "prime video"],
        domains: &["amazon"],
    },
    Brand {
        names: &["netflix"],
        domains: &["netflix"],
    },
    Brand {
        names: &["docusign"],
        domains: &["docusign"],
    },
    Brand {
        names: &["dropbox"],
        domains: &["dropbox"],
    },
    Brand {
        names: &["norton", "norton 360", "lifelock"],
        domains: &["norton", "lifelock", "gendigital", "symantec"],
    },
    Brand {
        names: &["mcafee"],
        domains: &["mcafee"],
    },
    Brand {
        names: &["totalav", "total av"],
        domains: &["totalav"],
    },
    Brand {
        names: &["geek squad"],
        domains: &["geeksquad", "bestbuy"],
    },
    Brand {
        names: &["coinbase"],
        domains: &["coinbase"],
    },
    Brand {
        names: &["binance"],
        domains: &["binance"],
    },
    Brand {
        names: &["metamask"],
        domains: &["metamask", "consensys"],
    },
    Brand {
        names: &["trust wallet"],
        domains: &["trustwallet"],
    },
    Brand {
        names: &["kraken"],
        domains: &["kraken"],
    },
    Brand {
        names: &["ledger", "ledger live"],
        domains: &["ledger"],
    },
    Brand {
        names: &["wells fargo"],
        domains: &["wellsfargo"],
    },
    Brand {
        names: &["chase bank", "jpmorgan chase"],
        domains: &["chase", "jpmorgan"],
    },
    Brand {
        names: &["bank of america"],
        domains: &["bankofamerica", "bofa"],
    },
    Brand {
        names: &["citibank"],
        domains: &["citi"],
    },
    Brand {
        names: &["hsbc"],
        domains: &["hsbc"],
    },
    Brand {
        names: &["barclays"],
        domains: &["barclays"],
    },
    Brand {
        names: &["santander"],
        domains: &["santander"],
    },
    Brand {
        names: &["bradesco"],
        domains: &["bradesco"],
    },
    Brand {
        names: &["itaú", "itau"],
        domains: &["itau"],
    },
    Brand {
        names: &["nubank"],
        domains: &["nubank", "nu"],
    },
    Brand {
        names: &["dhl", "dhl express"],
        domains: &["dhl"],
    },
    Brand {
        names: &["fedex"],
        domains: &["fedex"],
    },
    Brand {
        names: &["ups"],
        domains: &["ups"],
    },
    Brand {
        names: &["usps"],
        domains: &["usps"],
    },
    Brand {
        names: &["royal mail"],
        domains: &["royalmail"],
    },
    Brand {
        names: &["correios"],
        domains: &["correios"],
    },
    // Brazil's lures of 2023-2025 besides the banks above: the state bank,
    // loyalty points, credit bureau, tax office, traffic departments,
    // marketplaces and payment apps. Government sites sit under
    // `sp.gov.br`-style public suffixes, so their organisation is the
    // agency (`detran.sp.gov.br`, `fazenda.gov.br`).
    Brand {
        names: &["banco do brasil"],
        domains: &["bb", "bancodobrasil"],
    },
    Brand {
        names: &["caixa econômica", "caixa economica", "caixa tem"],
        domains: &["caixa"],
    },
    Brand {
        names: &["livelo"],
        domains: &["livelo"],
    },
    Brand {
        names: &["serasa", "serasa experian"],
        domains: &["serasa", "serasaexperian"],
    },
    Brand {
        names: &["receita federal"],
        domains: &["fazenda", "receita"],
    },
    Brand {
        names: &["detran"],
        domains: &["detran"],
    },
    Brand {
        names: &["mercado livre", "mercado pago", "mercado libre"],
        domains: &["mercadolivre", "mercadopago", "mercadolibre"],
    },
    Brand {
        names: &["pagseguro", "pagbank"],
        domains: &["pagseguro", "pagbank", "uol"],
    },
    Brand {
        names: &["picpay"],
        domains: &["picpay"],
    },
    // Europe's parcel and bank lures.
    Brand {
        names: &["postnl"],
        domains: &["postnl"],
    },
    Brand {
        names: &["deutsche post"],
        domains: &["deutschepost", "dhl"],
    },
    Brand {
        names: &["sparkasse"],
        domains: &["sparkasse"],
    },
    Brand {
        names: &["la poste", "colissimo"],
        domains: &["laposte", "colissimo"],
    },
    Brand {
        names: &["irs", "internal revenue service"],
        domains: &["irs", "treasury"],
    },
    Brand {
        names: &["hmrc"],
        domains: &["hmrc"],
    },
    Brand {
        names: &["facebook", "instagram", "whatsapp"],
        domains: &["facebook", "instagram", "whatsapp", "meta", "fb"],
    },
    Brand {
        names: &["linkedin"],
        domains: &["linkedin"],
    },
    Brand {
        names: &["google", "gmail", "google drive", "google docs"],
        domains: &["google", "gmail", "youtube"],
    },
    Brand {
        names: &["adobe"],
        domains: &["adobe"],
    },
    Brand {
        names: &["spotify"],
        domains: &["spotify"],
    },
];

/// The Latin letter a Greek or Cyrillic look-alike stands for ("Αpple"
/// with a Greek Alpha, "Місrоsоft" with Cyrillic letters), lower-case;
/// other characters as they are.
fn unconfused(c: char) -> char {
    match c {
        'Α' | 'α' | 'А' | 'а' => 'a',
        'Β' | 'В' | 'в' => 'b',
        'Ε' | 'ε' | 'Е' | 'е' => 'e',
        'Η' | 'Н' | 'н' => 'h',
        'Ι' | 'ι' | 'І' | 'і' => 'i',
        'Κ' | 'κ' | 'К' | 'к' => 'k',
        'Μ' | 'М' | 'м' => 'm',
        'Ν' => 'n',
        'Ο' | 'ο' | 'О' | 'о' => 'o',
        'Ρ' | 'ρ' | 'Р' | 'р' => 'p',
        'С' | 'с' => 'c',
        'Τ' | 'Т' | 'т' => 't',
        'Υ' | 'υ' | 'У' | 'у' => 'y',
        'Χ' | 'χ' | 'Х' | 'х' => 'x',
        'Ζ' => 'z',
        'Ѕ' | 'ѕ' => 's',
        'Ј' | 'ј' => 'j',
        _ => c,
    }
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
fn carries(organisation: &str, domains: &[&str]) -> bool {
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
            label.contains(d)
        }
    })
}

/// Whether the display name `name` opens with a brand ("McAfee",
/// "Microsoft 365 Admin", "Trust Wallet Support") and the From domain
/// `from` is not one of that brand's. A brand further in is a newsletter
/// or a person writing about it ("Lockergnome Apple Core").
pub(crate) fn impersonates(name: &str, from: &Host) -> bool {
    if from.ip().is_some() {
        return false;
    }
    let said = words(name);
    BRANDS.iter().any(|b| {
        b.names.iter().any(|n| {
            said.strip_prefix(' ')
                .and_then(|rest| rest.strip_prefix(n))
                .is_some_and(|rest| rest.starts_with(' '))
        }) && !carries(from.organisation(), b.domains)
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
        ];
        for (name, address, want) in cases {
            let host = Host::of_address(address).expect("valid address");
            assert_eq!(impersonates(name, &host), want, "{name} <{address}>");
        }
    }
}
