//! Walking a folder tree of mail the way SpamAssassin's mass-check does:
//! into every subfolder, maildirs understood (`cur/` and `new/` read,
//! `tmp/` skipped: messages there are still being delivered), hidden
//! entries and files that are plainly not mail skipped with a reason.
//!
//! Files are listed per folder, sorted by name, so the even/odd split
//! convention (index within a folder) holds at every depth.

use std::path::{Path, PathBuf};

/// The message files of one folder (a maildir's `cur/` and `new/`
/// together), sorted by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailFolder {
    /// The folder (the maildir itself for a maildir).
    pub dir: PathBuf,
    /// Its message files, sorted.
    pub files: Vec<PathBuf>,
}

/// What a walk found.
#[derive(Debug, Default)]
pub struct Walk {
    /// Folders holding message files, in sorted depth-first order.
    pub folders: Vec<MailFolder>,
    /// `(path, reason)` of every entry skipped as not mail.
    pub skipped: Vec<(String, String)>,
    /// `(path, error)` of every folder that could not be read.
    pub unreadable: Vec<(String, String)>,
}

/// Deepest folder nesting followed (a symlink loop stops here).
const MAX_DEPTH: usize = 32;

/// Why a file, by its name alone, is not a message; `None` when it may be.
pub fn not_mail_by_name(path: &Path) -> Option<&'static str> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    if name.starts_with('.') {
        return Some("hidden file");
    }
    const DOCS: [&str; 5] = ["license", "readme", "copying", "notice", "changelog"];
    if DOCS.iter().any(|d| name.starts_with(d)) || name == "cmds" {
        return Some("documentation, not a message");
    }
    const NOT_MAIL: [&str; 11] = [
        ".toml", ".json", ".jsonl", ".tsv", ".csv", ".md", ".sh", ".py", ".gz", ".zip", ".svg",
    ];
    if NOT_MAIL.iter().any(|e| name.ends_with(e)) {
        return Some("not a message (file type)");
    }
    None
}

/// Whether raw bytes look like a message: a header field first (after an
/// mbox `From ` line). What the content check of a walk applies.
pub fn looks_like_mail(raw: &[u8]) -> bool {
    use crate::message::email::{starts_with_header_field, strip_mbox_from_line};
    starts_with_header_field(strip_mbox_from_line(raw))
}

/// Walk `root` (a folder or maildir).
pub fn walk(root: &Path) -> Walk {
    let mut out = Walk::default();
    visit(root, 0, &mut out);
    out
}

fn is_maildir(dir: &Path) -> bool {
    dir.join("cur").is_dir() || dir.join("new").is_dir()
}

fn visit(dir: &Path, depth: usize, out: &mut Walk) {
    if depth > MAX_DEPTH {
        out.unreadable.push((
            dir.display().to_string(),
            format!("nested deeper than {MAX_DEPTH} folders"),
        ));
        return;
    }
    let maildir = is_maildir(dir);
    let mut files = Vec::new();
    let mut subdirs = Vec::new();
    let listed: Vec<(PathBuf, bool)> = if maildir {
        ["cur", "new"]
            .iter()
            .map(|s| dir.join(s))
            .filter(|d| d.is_dir())
            .flat_map(|d| list(&d, out))
            .collect()
    } else {
        list(dir, out)
    };
    for (p, is_dir) in listed {
        if is_dir {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            if name.as_deref().is_some_and(|n| n.starts_with('.')) {
                continue;
            }
            subdirs.push(p);
        } else if let Some(why) = not_mail_by_name(&p) {
            out.skipped.push((p.display().to_string(), why.into()));
        } else {
            files.push(p);
        }
    }
    if maildir {
        // Other folders beside cur/new/tmp (Maildir++ subfolders) are walked too.
        if let Ok(rd) = std::fs::read_dir(dir) {
            let mut more: Vec<PathBuf> = rd
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.is_dir()
                        && !matches!(
                            p.file_name().and_then(|n| n.to_str()),
                            Some("cur" | "new" | "tmp")
                        )
                })
                .collect();
            more.sort();
            subdirs.extend(more);
        }
    }
    files.sort();
    if !files.is_empty() {
        out.folders.push(MailFolder {
            dir: dir.to_path_buf(),
            files,
        });
    }
    subdirs.sort();
    for d in subdirs {
        visit(&d, depth + 1, out);
    }
}

/// The entries of `dir` that are files or folders, with whether each is a
/// folder. The entry's type needs no `stat` but for symlinks, which are
/// followed (a dangling one is left out).
fn list(dir: &Path, out: &mut Walk) -> Vec<(PathBuf, bool)> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .filter_map(|e| {
                let path = e.path();
                let (file, folder) = match e.file_type() {
                    Ok(t) if !t.is_symlink() => (t.is_file(), t.is_dir()),
                    _ => (path.is_file(), path.is_dir()),
                };
                (file || folder).then_some((path, folder))
            })
            .collect(),
        Err(e) => {
            out.unreadable
                .push((dir.display().to_string(), e.to_string()));
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descends_understands_maildirs_and_skips_what_is_not_mail() {
        let root = tempfile::tempdir().expect("temp dir");
        let r = root.path();
        for (path, text) in [
            ("LICENSE", "text"),
            ("spam/001", "Subject: a\n\nb"),
            ("spam/000", "Subject: a\n\nb"),
            ("spam/x.expect.toml", "action = 'tag'"),
            ("ham/old/1.eml", "Subject: a\n\nb"),
            ("ham/.hidden", "Subject: a\n\nb"),
            ("box/cur/1:2,S", "Subject: a\n\nb"),
            ("box/new/2", "Subject: a\n\nb"),
            ("box/tmp/3", "Subject: a\n\nb"),
            (".git/objects/x", "blob"),
        ] {
            let p = r.join(path);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, text).expect("write");
        }
        let w = walk(r);
        let folders: Vec<(String, usize)> = w
            .folders
            .iter()
            .map(|f| {
                let rel = f.dir.strip_prefix(r).expect("under root");
                (rel.display().to_string(), f.files.len())
            })
            .collect();
        assert_eq!(
            folders,
            [
                ("box".to_string(), 2),
                ("ham/old".to_string(), 1),
                ("spam".to_string(), 2)
            ]
        );
        assert!(w.folders[2].files[0].ends_with("000"), "sorted");
        let skipped: Vec<&str> = w.skipped.iter().map(|(_, why)| why.as_str()).collect();
        assert_eq!(skipped.len(), 3, "{:?}", w.skipped);
        assert!(looks_like_mail(b"From x\nSubject: a\n\nb"));
        assert!(!looks_like_mail(b"Just some text\n"));
    }
}
