//! Every reader of user or installed files, given arbitrary bytes (and valid
//! files with random damage), returns a value or an error: never a panic.
//! Case counts are modest so the suite stays fast.

use std::path::{Path, PathBuf};

use proptest::prelude::*;

/// Random bytes, up to `max` long.
fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

/// `seed` with a few bytes overwritten, some inserted, and maybe cut short:
/// inputs near valid ones reach deeper into a parser than random bytes do.
fn damaged(seed: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = seed.len().max(1);
    (
        prop::collection::vec((0..len, any::<u8>()), 0..6),
        prop::collection::vec((0..len, any::<u8>()), 0..3),
        prop::option::of(0..len),
    )
        .prop_map(move |(set, insert, cut)| {
            let mut b = seed.clone();
            for (i, v) in set {
                if i < b.len() {
                    b[i] = v;
                }
            }
            for (i, v) in insert {
                b.insert(i.min(b.len()), v);
            }
            if let Some(c) = cut {
                b.truncate(c);
            }
            b
        })
}

/// Random bytes or a damaged `seed`.
fn input(seed: &[u8], max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![bytes(max), damaged(seed.to_vec())]
}

/// Writes `bytes` as `name` in a fresh folder; the folder lives as long as the guard.
fn file(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

const OBO: &[u8] = b"format-version: 1.2\ndata-version: hp/releases/2025-01-16\n\n\
[Term]\nid: HP:0000001\nname: All\n\n[Term]\nid: HP:0001250\nname: Seizure\n\
synonym: \"Epileptic seizure\" EXACT []\nis_a: HP:0000001 ! All\nxref: UMLS:C0036572\n\n\
[Typedef]\nid: part_of\nname: part of\n";

const HGNC: &[u8] = b"HGNC ID\tApproved symbol\tApproved name\tStatus\tAlias symbols\t\
NCBI Gene ID(supplied by NCBI)\tUniProt ID(supplied by UniProt)\t\
Mouse genome database ID(supplied by MGI)\tRat genome database ID(supplied by RGD)\t\
Previous symbols\tEnsembl gene ID\tLocus type\tEnzyme IDs\n\
HGNC:5\tA1BG\talpha-1-B glycoprotein\tApproved\t\t1\tP04217\tMGI:2152878\tRGD:69417\t\t\
ENSG00000121410\tgene with protein product\t\n\
HGNC:37133\tA1BG-AS1\tA1BG antisense RNA 1\tApproved\tFLJ23569\t503538\t\t\t\t\
NCRNA00181, A1BGAS\tENSG00000268895\tRNA, long non-coding\t\n";

const CSV: &[u8] = b"left,right,popularity\nSeizure,HP:0001250,2439\n\"a, b\",x,\n0012,y,1.5\n";

const TOML: &[u8] = b"pooling = \"mean\"\npairings = [\"hpo-label-id\", \"go-label-id\"]\n\
sample = \"paper\"\nseed = 42\nbootstrap = 1000\nmax_null = 2000000\npca_links = 40\n\
threads = 0\nout = \"results\"\nfigures = \"figures\"\n";

const LEXALIGN_JSON: &[u8] =
    b"{\"name\": \"m\", \"variant\": \"fp32\", \"max_length\": 128, \"pooling\": \"mean\", \"normalize\": true}";

/// A small valid `.npy` float32 [2, 3] matrix.
fn npy_seed() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.npy");
    let a = ndarray::Array2::from_shape_vec((2, 3), vec![1f32, 2., 3., 4., 5., 6.]).unwrap();
    lexalign::io::write_npy(&path, &a).unwrap();
    std::fs::read(&path).unwrap()
}

/// A small valid table in the format `ext` names, as written by lexalign.
fn table_seed(ext: &str) -> Vec<u8> {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("t.{ext}"));
    let mut df = df!("left" => ["Seizure", "Ataxia"], "right" => ["HP:0001250", "HP:0001251"],
        "popularity" => [2439.0, 12.0])
    .unwrap();
    lexalign::io::write_table(&path, &mut df).unwrap();
    std::fs::read(&path).unwrap()
}

/// A pairing table as `vocab build` writes it, and its meta sidecar.
fn pairing_seed() -> (Vec<u8>, Vec<u8>) {
    use lexalign::pairs::{Pairing, PairingMeta};
    let dir = tempfile::tempdir().unwrap();
    let mut p = Pairing::new("p", PairingMeta::default());
    p.push(
        "Seizure".into(),
        "HP:0001250".into(),
        "HP:0001250".into(),
        Some(3.0),
    );
    p.push(
        "Ataxia".into(),
        "HP:0001251".into(),
        "HP:0001251".into(),
        None,
    );
    p.write(dir.path(), "p", Vec::new()).unwrap();
    let read = |n: &str| std::fs::read(dir.path().join(n)).unwrap();
    (read("p.csv"), read("p.meta.json"))
}

const TOKENIZER: &[u8] = br#"{"version":"1.0","truncation":{"direction":"Right","max_length":16,"strategy":"LongestFirst","stride":0},"padding":null,"added_tokens":[{"id":0,"content":"[UNK]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}],"normalizer":{"type":"Lowercase"},"pre_tokenizer":{"type":"Whitespace"},"post_processor":null,"decoder":null,"model":{"type":"WordLevel","vocab":{"[UNK]":0,"seizure":1,"hp":2,":":3,"0001250":4},"unk_token":"[UNK]"}}"#;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        // Fixed cases: CI runs the same inputs every time (a found panic reproduces).
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x1e7a_a119),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn obo(b in input(OBO, 512)) {
        let _ = lexalign::vocab::obo::parse_obo(&b, Path::new("x.obo"));
    }

    #[test]
    fn hgnc(b in input(HGNC, 512)) {
        let (_d, path) = file("hgnc_entries.tsv", &b);
        let _ = lexalign::vocab::hgnc::read_hgnc(&path);
    }

    #[test]
    fn npy(b in input(&npy_seed(), 256)) {
        let (_d, path) = file("m.npy", &b);
        let _ = lexalign::io::read_npy(&path);
    }

    #[test]
    fn model_pooling_default(b in input(LEXALIGN_JSON, 256)) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("lexalign.json"), &b).unwrap();
        let _ = lexalign::embed::default_pooling(dir.path());
    }

    #[test]
    fn config_toml(b in input(TOML, 512)) {
        let (_d, path) = file("c.toml", &b);
        let _ = lexalign::report::Config::from_file(&path);
    }

    #[test]
    fn text_lines(b in bytes(256)) {
        let (_d, path) = file("s.txt", &b);
        let _ = lexalign::io::read_strings(&path, None);
    }
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn csv_and_tsv(b in input(CSV, 256), tsv in any::<bool>()) {
        let (_d, path) = file(if tsv { "t.tsv" } else { "t.csv" }, &b);
        let _ = lexalign::io::read_table(&path);
        let _ = lexalign::io::read_strings(&path, Some("left"));
    }

    #[test]
    fn pairing_table_and_meta(t in input(&pairing_seed().0, 256), m in input(&pairing_seed().1, 256)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.csv");
        std::fs::write(&path, &t).unwrap();
        std::fs::write(dir.path().join("p.meta.json"), &m).unwrap();
        let _ = lexalign::pairs::Pairing::read(&path);
        let spec = lexalign::pairs::PairFile {
            file: path.clone(),
            left: "left".into(),
            right: "right".into(),
            id: Some("concept_id".into()),
            popularity: Some("popularity".into()),
            split: Some("split".into()),
            name: Some("u".into()),
        };
        let _ = spec.read(&lexalign::pairs::SampleParams::default());
    }
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn parquet(b in input(&table_seed("parquet"), 512)) {
        let (_d, path) = file("t.parquet", &b);
        let _ = lexalign::io::read_table(&path);
        let _ = lexalign::io::read_strings(&path, Some("left"));
        let _ = lexalign::pairs::Pairing::read(&path);
    }
}

proptest! {
    #![proptest_config(config(32))]

    /// A model directory whose tokenizer.json is damaged: loading it (and embedding
    /// with it when it loads) is an error or a value. The graph is the installed model's.
    #[test]
    fn tokenizer_json(b in input(TOKENIZER, 512)) {
        let installed = lexalign::assets::default_model_dir().join("model.onnx");
        prop_assume!(installed.is_file());
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(&installed, dir.path().join("model.onnx")).unwrap();
        std::fs::write(dir.path().join("tokenizer.json"), &b).unwrap();
        if let Ok(model) = lexalign::embed::Model::load(dir.path()) {
            let options = lexalign::embed::EmbedOptions::default().with_cache(None);
            let _ = model.embed(&["Seizure", "HP:0001250", ""], &options);
        }
    }
}
