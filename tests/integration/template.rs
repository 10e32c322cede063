//! `--template`: the wrapper changes the vectors and the cache key; `{}` alone
//! is the same as no template; a template without exactly one `{}` is refused.

use lexalign::embed::{EmbedOptions, Model};
use lexalign::report::Config;

#[test]
fn a_template_changes_vectors_and_cache_key() {
    let model = Model::load_default().expect("run `make setup` first");
    let cache = tempfile::tempdir().unwrap();
    let texts = ["TP53", "tumor protein p53", "BRCA1"];
    let opts = model
        .embed_options()
        .with_cache(Some(cache.path().to_path_buf()));
    let plain = model.embed(&texts, &opts).unwrap();
    assert_eq!(plain.stats.computed, 3);
    let wrapped = model
        .embed(
            &texts,
            &opts.clone().with_template(Some("The gene {} is".into())),
        )
        .unwrap();
    // Its own cache entries: nothing read from the plain ones.
    assert_eq!(wrapped.stats.from_cache, 0);
    assert_eq!(
        wrapped.texts, plain.texts,
        "rows keep the strings themselves"
    );
    let diff = (&wrapped.vectors - &plain.vectors)
        .iter()
        .fold(0f32, |m, x| m.max(x.abs()));
    assert!(diff > 1e-3, "template left the vectors unchanged ({diff})");
    // Wrapping by hand gives the same vectors.
    let by_hand: Vec<String> = texts.iter().map(|t| format!("The gene {t} is")).collect();
    let hand = model
        .embed(&by_hand, &opts.clone().with_cache(None))
        .unwrap();
    let d = (&wrapped.vectors - &hand.vectors)
        .iter()
        .fold(0f32, |m, x| m.max(x.abs()));
    assert!(d < 1e-5, "{d}");
    // `{}` alone is no template: same vectors, read from the plain cache.
    let same = model
        .embed(&texts, &opts.clone().with_template(Some("{}".into())))
        .unwrap();
    assert_eq!(same.stats.from_cache, 3);
    assert_eq!(same.vectors, plain.vectors);
    let mut raw = opts.clone();
    raw.template = Some("{}".into());
    assert_eq!(raw.active_template(), None);
}

#[test]
fn templates_need_exactly_one_slot() {
    for bad in ["no slot", "{} and {}", ""] {
        let err = EmbedOptions::check_template(bad).unwrap_err().to_string();
        assert!(err.contains("template"), "{bad:?}: {err}");
        let err = Config {
            template: Some(bad.into()),
            ..Config::paper()
        }
        .resolve()
        .unwrap_err()
        .to_string();
        assert!(err.contains("template"), "{err}");
    }
    let model = Model::load_default().unwrap();
    let mut o = model.embed_options().with_cache(None);
    o.template = Some("x".into());
    assert!(model.embed(&["a"], &o).is_err());
    let run = Config {
        template: Some("Gene: {}".into()),
        ..Config::paper()
    }
    .resolve()
    .unwrap();
    assert_eq!(run.embed().active_template(), Some("Gene: {}"));
}

#[test]
fn the_report_cites_its_template() {
    use lexalign::pairs::{Pairing, PairingMeta};
    let model = Model::load_default().unwrap();
    let mut p = Pairing::new("genes", PairingMeta::default());
    for (l, r) in [
        ("tumor protein p53", "TP53"),
        ("insulin", "INS"),
        ("huntingtin", "HTT"),
        ("apolipoprotein E", "APOE"),
    ] {
        p.push(l.into(), r.into(), r.into(), None);
    }
    let run = |template: Option<&str>| {
        let run = Config {
            bootstrap: 20,
            cache: false,
            template: template.map(str::to_string),
            ..Config::paper()
        }
        .resolve()
        .unwrap();
        lexalign::report::run_with(&model, &[p.clone()], &run, std::time::Instant::now()).unwrap()
    };
    let with = run(Some("Gene: {}"));
    let json = serde_json::to_value(with.summary()).unwrap();
    assert_eq!(json["model"]["template"], "Gene: {}");
    assert!(with.provenance.caption().contains("template \"Gene: {}\""));
    let without = run(None);
    let json = serde_json::to_value(without.summary()).unwrap();
    assert!(json["model"].get("template").is_none());
    assert!(!without.provenance.caption().contains("template"));
}
