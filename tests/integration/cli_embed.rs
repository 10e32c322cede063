//! The `embed` / `tokens` command-line contract: outputs readable by numpy and
//! polars, and clear errors (exit ≠ 0, no output file) on bad input.

use crate::common;

use common::{fails_with, usage_error};

use std::path::Path;

const CACHE: Option<&str> = Some("lexalign-test-cache");

fn only_file(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn embed_writes_npy_and_parquet_in_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("terms.txt");
    std::fs::write(&input, "BRCA1\r\nHGNC:1100\nSeizure\nBRCA1\n").unwrap();
    let npy = dir.path().join("out.npy");
    let out = common::lexalign(
        CACHE,
        &[
            "embed",
            "--input",
            input.to_str().unwrap(),
            "--output",
            npy.to_str().unwrap(),
            "--normalize",
            "-q",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = lexalign::io::read_npy(&npy).unwrap();
    assert_eq!(a.dim(), (4, 384));
    assert_eq!(a.row(0), a.row(3));
    let norm: f32 = a.row(1).iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5);

    let pq = dir.path().join("out.parquet");
    let out = common::lexalign(
        CACHE,
        &[
            "embed",
            "--input",
            input.to_str().unwrap(),
            "--output",
            pq.to_str().unwrap(),
            "--static",
            "-q",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let df = lexalign::io::read_table(&pq).unwrap();
    assert_eq!(df.height(), 4);
    assert_eq!(
        df.get_column_names()
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>(),
        ["text", "vector"]
    );
    let texts = lexalign::io::string_column(&df, &pq, "text").unwrap();
    assert_eq!(texts, ["BRCA1", "HGNC:1100", "Seizure", "BRCA1"]);
}

#[test]
fn embed_reads_a_csv_column_and_tokens_writes_stats() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pairs.csv");
    std::fs::write(
        &input,
        "name,id\napoptotic process,GO:0006915\nSeizure,HP:0001250\n",
    )
    .unwrap();
    let npy = dir.path().join("ids.npy");
    let out = common::lexalign(
        CACHE,
        &[
            "embed",
            "--input",
            input.to_str().unwrap(),
            "--column",
            "id",
            "--output",
            npy.to_str().unwrap(),
            "-q",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(lexalign::io::read_npy(&npy).unwrap().nrows(), 2);

    let csv = dir.path().join("tokens.csv");
    let out = common::lexalign(
        CACHE,
        &[
            "tokens",
            "--input",
            input.to_str().unwrap(),
            "--column",
            "id",
            "--output",
            csv.to_str().unwrap(),
            "-q",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(
        text.starts_with("text,n_tokens,pieces,n_continuation,n_unknown,single_token,truncated"),
        "{text}"
    );
    assert!(text.contains("GO:0006915,"), "{text}");
}

#[test]
fn missing_column_names_the_columns_present() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pairs.csv");
    std::fs::write(&input, "name,id\nSeizure,HP:0001250\n").unwrap();
    let out_path = dir.path().join("x.npy");
    let out = common::lexalign(
        CACHE,
        &[
            "embed",
            "--input",
            input.to_str().unwrap(),
            "--column",
            "label",
            "--output",
            out_path.to_str().unwrap(),
        ],
    );
    fails_with(&out, &["label", "name, id"]);
    let out = common::lexalign(
        CACHE,
        &[
            "embed",
            "--input",
            input.to_str().unwrap(),
            "--output",
            out_path.to_str().unwrap(),
        ],
    );
    fails_with(&out, &["--column"]);
    assert_eq!(only_file(dir.path()), ["pairs.csv"]);
}

#[test]
fn invalid_utf8_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bad.txt");
    std::fs::write(&input, b"BRCA1\nTP53\nbad \xff byte\n").unwrap();
    let out_path = dir.path().join("x.npy");
    let out = common::lexalign(
        CACHE,
        &[
            "embed",
            "--input",
            input.to_str().unwrap(),
            "--output",
            out_path.to_str().unwrap(),
        ],
    );
    fails_with(&out, &["bad.txt:3", "UTF-8"]);
    assert!(!out_path.exists());
}

#[test]
fn output_in_missing_directory_fails_before_work() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("t.txt");
    std::fs::write(&input, "BRCA1\n").unwrap();
    let out = common::lexalign(
        CACHE,
        &[
            "embed",
            "--input",
            input.to_str().unwrap(),
            "--output",
            dir.path().join("no/such/dir/x.npy").to_str().unwrap(),
        ],
    );
    fails_with(&out, &["does not exist"]);
    let out = common::lexalign(
        CACHE,
        &[
            "embed",
            "--input",
            input.to_str().unwrap(),
            "--output",
            dir.path().join("x.txt").to_str().unwrap(),
        ],
    );
    fails_with(&out, &["extension"]);
}

#[test]
fn model_problems_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("t.txt");
    std::fs::write(&input, "BRCA1\n").unwrap();
    let out_path = dir.path().join("x.npy");
    let root = common::root();
    let default_model = root.join("data/external/models/all-MiniLM-L6-v2");

    // Model directory without tokenizer.json.
    let no_tok = dir.path().join("no_tokenizer");
    std::fs::create_dir(&no_tok).unwrap();
    std::fs::copy(default_model.join("model.onnx"), no_tok.join("model.onnx")).unwrap();
    let out = common::lexalign(
        CACHE,
        &[
            "embed",
            "--model",
            no_tok.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--output",
            out_path.to_str().unwrap(),
        ],
    );
    fails_with(&out, &["tokenizer.json"]);

    // Graphs whose inputs or outputs cannot be used.
    for (graph, needle) in [
        ("unexpected_input", "pixel_values"),
        ("no_hidden_output", "logits"),
    ] {
        let m = dir.path().join(graph);
        std::fs::create_dir(&m).unwrap();
        std::fs::copy(
            root.join(format!("tests/fixtures/bad_models/{graph}.onnx")),
            m.join("model.onnx"),
        )
        .unwrap();
        std::fs::copy(
            default_model.join("tokenizer.json"),
            m.join("tokenizer.json"),
        )
        .unwrap();
        let out = common::lexalign(
            CACHE,
            &[
                "embed",
                "--model",
                m.to_str().unwrap(),
                "--input",
                input.to_str().unwrap(),
                "--output",
                out_path.to_str().unwrap(),
            ],
        );
        fails_with(&out, &[needle]);
    }

    // Missing ONNX Runtime library: says how to install it.
    let out = common::lexalign(
        CACHE,
        &[
            "embed",
            "--ort-lib",
            "/nonexistent/libonnxruntime.so",
            "--input",
            input.to_str().unwrap(),
            "--output",
            out_path.to_str().unwrap(),
        ],
    );
    fails_with(
        &out,
        &[
            "ONNX Runtime library",
            "/nonexistent/libonnxruntime.so",
            "file not found",
            "--ort-lib",
        ],
    );
    assert!(!out_path.exists());

    // Unknown pooling.
    let out = common::lexalign(
        CACHE,
        &[
            "embed",
            "--pooling",
            "max",
            "--input",
            input.to_str().unwrap(),
            "--output",
            out_path.to_str().unwrap(),
        ],
    );
    usage_error(&out, &["--pooling", "mean, cls, last"]);
}
