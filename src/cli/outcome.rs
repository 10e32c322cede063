//! `lexalign outcome`: join a model's per-item answers with a report's per-item
//! table and test lexicalisation and popularity as predictors of success.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use lexalign::metrics::stats::{BootstrapConfig, MAX_RESAMPLES};
use lexalign::outcome::{Correctness, MatchMode, Outcome, OutcomeParams, ResultsFile};

use super::pairs::per_file;

#[derive(Debug, Args)]
pub struct OutcomeArgs {
    /// Per-item table of a report (OUT/pairs/NAME.csv or .parquet).
    #[arg(long, value_name = "FILE")]
    pub items: PathBuf,
    /// A model's per-item results (CSV, TSV or Parquet); repeatable (e.g. one per model).
    #[arg(long, value_name = "FILE", required = true)]
    pub results: Vec<PathBuf>,
    /// Column of item ids in the results, matched with the items' `id`.
    #[arg(long, value_name = "COL", required = true)]
    pub id: Vec<String>,
    /// Column of 0/1/true/false correctness.
    #[arg(long, value_name = "COL", conflicts_with_all = ["predicted", "truth"])]
    pub correct: Vec<String>,
    /// Column of the model's answer (compared with --truth).
    #[arg(long, value_name = "COL", requires = "truth")]
    pub predicted: Vec<String>,
    /// Column of the true answer.
    #[arg(long, value_name = "COL", requires = "predicted")]
    pub truth: Vec<String>,
    /// How --predicted is compared with --truth (both trimmed).
    #[arg(long = "match", value_enum, default_value_t = MatchMode::Exact)]
    pub match_mode: MatchMode,
    /// Column to break the results down by (task, direction, …).
    #[arg(long, value_name = "COL")]
    pub group: Vec<String>,
    /// A numeric column of the results to test as a predictor too; repeatable.
    #[arg(long = "predictor", value_name = "COL")]
    pub predictors: Vec<String>,
    /// Name of each results file in outputs (default: its file name).
    #[arg(long, value_name = "NAME")]
    pub name: Vec<String>,
    /// Logistic terms, comma-separated (default: log1p_popularity,lexicalization).
    #[arg(long, value_delimiter = ',')]
    pub terms: Vec<String>,
    /// Output folder (outcome.json, outcome.md, joined.csv, figures/).
    #[arg(long, value_name = "DIR", default_value = "outcome")]
    pub out: PathBuf,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Bootstrap resamples for the CIs.
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    /// Label permutations for the p-values.
    #[arg(long, default_value_t = 1000)]
    pub permutations: usize,
}

impl OutcomeArgs {
    fn results_files(&self) -> Result<Vec<ResultsFile>> {
        let n = self.results.len();
        if self.correct.is_empty() && self.predicted.is_empty() {
            bail!(
                "say how to tell a correct answer: --correct COL, or --predicted COL --truth COL"
            );
        }
        if self.name.len() == 1 && n > 1 {
            bail!("--name is given once for {n} --results files; give one name per file");
        }
        (0..n)
            .map(|i| {
                let pick = |flag: &str, v: &[String]| per_file(flag, "results", v, n, i);
                let file = self.results[i].clone();
                let correct = match pick("correct", &self.correct)? {
                    Some(c) => Correctness::Column(c),
                    None => Correctness::Compare {
                        predicted: pick("predicted", &self.predicted)?.unwrap_or_default(),
                        truth: pick("truth", &self.truth)?.unwrap_or_default(),
                        mode: self.match_mode,
                    },
                };
                let name = match pick("name", &self.name)? {
                    Some(n) => n,
                    None => file
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_else(|| format!("results{}", i + 1)),
                };
                Ok(ResultsFile {
                    file,
                    name,
                    id: pick("id", &self.id)?.unwrap_or_default(),
                    correct,
                    group: pick("group", &self.group)?,
                    predictors: self.predictors.clone(),
                })
            })
            .collect()
    }

    fn params(&self) -> Result<OutcomeParams> {
        if self.permutations == 0 {
            bail!("--permutations 0: need at least 1 permutation for a p-value");
        }
        // Ceilings on the work (docs/FAILURES.md, "No bound on work").
        for (flag, n) in [
            ("--permutations", self.permutations),
            ("--bootstrap", self.bootstrap),
        ] {
            if n > MAX_RESAMPLES {
                bail!("{flag} {n}: at most {MAX_RESAMPLES} (a bound on the run's time and memory)");
            }
        }
        let bootstrap = BootstrapConfig {
            resamples: self.bootstrap,
            level: 0.95,
            seed: self.seed,
        };
        bootstrap.validate().context("--bootstrap")?;
        Ok(OutcomeParams {
            bootstrap,
            permutations: self.permutations,
            terms: (!self.terms.is_empty()).then(|| self.terms.clone()),
        })
    }
}

pub fn run(args: OutcomeArgs, quiet: bool) -> Result<()> {
    let files = args.results_files()?;
    let params = args.params()?;
    if args.out.exists() && !args.out.is_dir() {
        bail!("--out {}: is a file; expected a folder", args.out.display());
    }
    let mut inputs = vec![("--items", args.items.as_path())];
    inputs.extend(args.results.iter().map(|r| ("--results", r.as_path())));
    let mut written = vec![
        "outcome.json".to_string(),
        "outcome.md".into(),
        "figures".into(),
    ];
    written.extend(files.iter().map(|f| format!("joined_{}.csv", f.name)));
    written.push("joined.csv".into());
    let written: Vec<PathBuf> = written.iter().map(|n| args.out.join(n)).collect();
    let outputs: Vec<(&str, &std::path::Path)> =
        written.iter().map(|p| ("--out", p.as_path())).collect();
    lexalign::io::refuse_overwrite(&inputs, &outputs)?;
    for f in &files {
        if lexalign::io::read_text_table(&f.file).is_ok_and(|t| t.height() == 0) {
            bail!(
                "--results {}: has no rows (only a header); nothing to join",
                f.file.display()
            );
        }
    }
    let outcome = Outcome::run(&args.items, &files, &params).context("outcome")?;
    let written = outcome.write(&args.out)?;
    if !quiet {
        for r in &outcome.results {
            let j = &r.join;
            eprintln!(
                "{}: joined {} items ({} only in items, {} only in results); accuracy {:.3} [{:.3}, {:.3}]",
                r.name, j.matched, j.only_in_items, j.only_in_results, r.accuracy, r.accuracy_ci[0], r.accuracy_ci[1]
            );
            for name in &r.predictor_order {
                let e = &r.predictors[name];
                match (e.auc, e.auc_ci, e.p_value) {
                    (Some(a), Some(ci), Some(p)) => println!(
                        "{:<8} {:<22} AUC {a:.3} [{:.3}, {:.3}]  p {p:.4}  n {}",
                        r.name, name, ci[0], ci[1], e.n
                    ),
                    _ => println!(
                        "{:<8} {:<22} not computed: {}",
                        r.name,
                        name,
                        e.skipped.as_deref().unwrap_or("")
                    ),
                }
            }
            match (&r.logistic, &r.logistic_skipped) {
                (Some(l), _) => {
                    let coefs: Vec<String> = l
                        .terms
                        .iter()
                        .map(|t| format!("{t} {:+.3} (SE {:.3})", l.coefficients[t], l.se[t]))
                        .collect();
                    println!(
                        "{:<8} logistic: {}; McFadden R² {:.3}",
                        r.name,
                        coefs.join(", "),
                        l.mcfadden_r2
                    );
                }
                (None, Some(why)) => println!("{:<8} logistic not fitted: {why}", r.name),
                _ => {}
            }
        }
        eprintln!("wrote {} files to {}", written.len(), args.out.display());
    }
    Ok(())
}
