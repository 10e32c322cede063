//! OBO parser on small hand-written snippets, malformed input (errors must name the
//! line) and a seeded random-bytes loop (the parser must never panic).

use std::path::Path;

use lexalign::vocab::obo::{parse_obo, SynonymScope};
use lexalign::Error;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn parse(text: &str) -> lexalign::Result<lexalign::vocab::obo::OboDocument> {
    parse_obo(text.as_bytes(), Path::new("test.obo"))
}

fn error_line(text: &str) -> (usize, String) {
    match parse(text) {
        Err(Error::Parse {
            at: Some(at),
            message,
            path,
        }) => {
            assert_eq!(path, Path::new("test.obo"));
            (at.line, message)
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
}

const GOOD: &str = r#"format-version: 1.2
data-version: hp/releases/2025-01-16
remark: a header comment ! not part of the value
synonymtypedef: layperson "layperson term"

! a whole-line comment
[Term]
id: HP:0000001
name: All

[Term]
id: HP:0001250
name: Seizure ! trailing comment
alt_id: HP:0001275
alt_id: HP:0001303
def: "A seizure is an intermittent abnormality of the \"nervous\" system." [https://orcid.org/0000-0002-0736-9199, PMID:123]
synonym: "Epileptic seizure" EXACT []
synonym: "Seizures" EXACT plural_form [ORCID:1 "a quoted, description"]
synonym: "Fits" EXACT layperson [] {source="x"}
synonym: "Convulsion \"fit\"" RELATED []
synonym: "Epilepsy" BROAD []
synonym: "Old style" NARROW
is_a: HP:0012638 ! Abnormal nervous system physiology
is_a: HP:0000001 {source="y"}

[Term]
id: HP:0000005
name: Mode of inheritance
is_obsolete: true
replaced_by: HP:0000001

[Typedef]
id: part_of
name: part of

[Instance]
id: something
weird-tag: ignored
"#;

#[test]
fn parses_header_stanzas_and_tags() {
    let doc = parse(GOOD).unwrap();
    assert_eq!(doc.header_value("format-version"), Some("1.2"));
    assert_eq!(
        doc.header_value("data-version"),
        Some("hp/releases/2025-01-16")
    );
    assert_eq!(doc.header_value("remark"), Some("a header comment"));
    assert_eq!(doc.terms.len(), 3);
    assert_eq!(doc.typedefs.len(), 1);
    assert_eq!(doc.typedefs[0].id, "part_of");

    let s = &doc.terms[1];
    assert_eq!(s.id, "HP:0001250");
    assert_eq!(s.name.as_deref(), Some("Seizure"));
    assert_eq!(s.line, 11);
    assert_eq!(s.alt_ids, ["HP:0001275", "HP:0001303"]);
    assert_eq!(
        s.def.as_deref(),
        Some("A seizure is an intermittent abnormality of the \"nervous\" system.")
    );
    assert_eq!(s.is_a, ["HP:0012638", "HP:0000001"]);
    assert!(!s.is_obsolete);

    let texts: Vec<&str> = s.synonyms.iter().map(|x| x.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "Epileptic seizure",
            "Seizures",
            "Fits",
            "Convulsion \"fit\"",
            "Epilepsy",
            "Old style"
        ]
    );
    let scopes: Vec<SynonymScope> = s.synonyms.iter().map(|x| x.scope).collect();
    use SynonymScope::*;
    assert_eq!(scopes, [Exact, Exact, Exact, Related, Broad, Narrow]);
    assert_eq!(s.synonyms[1].kind.as_deref(), Some("plural_form"));
    assert_eq!(s.synonyms[1].xrefs, ["ORCID:1"]);
    assert_eq!(s.synonyms[2].kind.as_deref(), Some("layperson"));
    assert!(s.synonyms[0].kind.is_none());

    let o = &doc.terms[2];
    assert!(o.is_obsolete);
    assert_eq!(o.replaced_by, ["HP:0000001"]);
}

#[test]
fn crlf_and_missing_final_newline() {
    let doc = parse("[Term]\r\nid: X:1\r\nname: one\r\n\r\n[Term]\r\nid: X:2").unwrap();
    assert_eq!(doc.terms.len(), 2);
    assert_eq!(doc.terms[0].name.as_deref(), Some("one"));
}

#[test]
fn old_style_synonym_tags_and_default_scope() {
    let doc = parse("[Term]\nid: X:1\nexact_synonym: \"a\" []\nsynonym: \"b\" []\n").unwrap();
    assert_eq!(doc.terms[0].synonyms[0].scope, SynonymScope::Exact);
    assert_eq!(doc.terms[0].synonyms[1].scope, SynonymScope::Related);
}

#[test]
fn unterminated_quote_names_the_line() {
    let (line, msg) = error_line("[Term]\nid: X:1\nname: a\nsynonym: \"open EXACT []\n");
    assert_eq!(line, 4);
    assert!(msg.contains("unterminated"), "{msg}");
    let (line, _) = error_line("[Term]\nid: X:1\ndef: \"never closed [x]\n");
    assert_eq!(line, 3);
}

#[test]
fn stanza_without_id_names_its_header_line() {
    let (line, msg) =
        error_line("format-version: 1.2\n\n[Term]\nid: X:1\n\n[Term]\nname: nameless\n");
    assert_eq!(line, 6);
    assert!(msg.contains("no `id:`"), "{msg}");
}

#[test]
fn duplicate_ids_name_both_lines() {
    let (line, msg) = error_line("[Term]\nid: X:1\n\n[Term]\nid: X:2\n\n[Term]\nid: X:1\n");
    assert_eq!(line, 7);
    assert!(
        msg.contains("duplicate id") && msg.contains("line 1"),
        "{msg}"
    );
    // A Typedef may share an id with a Term.
    assert!(parse("[Term]\nid: X:1\n\n[Typedef]\nid: X:1\n").is_ok());
}

#[test]
fn other_malformed_lines() {
    assert_eq!(error_line("[Term]\nid: X:1\nthis line has no colon\n").0, 3);
    assert_eq!(error_line("[Term\nid: X:1\n").0, 1);
    assert_eq!(
        error_line("[Term]\nid: X:1\nsynonym: \"a\" SOMETIMES []\n").0,
        3
    );
    assert_eq!(error_line("[Term]\nid: X:1\nid: X:2\n").0, 3);
    assert_eq!(error_line("[Term]\nid: \n").0, 2);
    assert_eq!(error_line("[Term]\nid: X:1\nis_obsolete: maybe\n").0, 3);
    assert_eq!(
        error_line("[Term]\nid: X:1\nsynonym: \"a\" EXACT [x, y\n").0,
        3
    );
    assert_eq!(error_line("[Term]\nid: X:1\nname: ends with \\\n").0, 3);
    let bytes = b"[Term]\nid: X:1\nname: caf\xe9\n";
    match parse_obo(bytes, Path::new("test.obo")) {
        Err(Error::Parse {
            at: Some(at),
            message,
            ..
        }) => {
            assert_eq!(at.line, 3);
            assert!(message.contains("UTF-8"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn error_display_has_file_and_line() {
    let err = parse("[Term]\nid: X:1\nsynonym: \"open\n").unwrap_err();
    assert!(err.to_string().starts_with("test.obo:3: "), "{err}");
}

/// Seeded random bytes and random mutations of a valid file: the parser returns
/// Ok or Err but never panics.
#[test]
fn never_panics_on_arbitrary_bytes() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let alphabet: &[u8] = b"[]{}\"\\!:, \n\r\tabcXYZ019_-\xc3\xa9\xff";
    for case in 0..4000 {
        let len = rng.gen_range(0..300);
        let bytes: Vec<u8> = if case % 2 == 0 {
            (0..len).map(|_| rng.gen()).collect()
        } else {
            (0..len)
                .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
                .collect()
        };
        let _ = parse_obo(&bytes, Path::new("fuzz.obo"));
    }
    let good = GOOD.as_bytes();
    for _ in 0..3000 {
        let mut bytes = good.to_vec();
        for _ in 0..rng.gen_range(1..8) {
            match rng.gen_range(0..3) {
                0 if !bytes.is_empty() => {
                    let i = rng.gen_range(0..bytes.len());
                    bytes[i] = alphabet[rng.gen_range(0..alphabet.len())];
                }
                1 if !bytes.is_empty() => {
                    let i = rng.gen_range(0..bytes.len());
                    bytes.remove(i);
                }
                _ => {
                    let i = rng.gen_range(0..=bytes.len());
                    bytes.insert(i, alphabet[rng.gen_range(0..alphabet.len())]);
                }
            }
        }
        let _ = parse_obo(&bytes, Path::new("fuzz.obo"));
    }
}
