//! `lexalign outcome`: join a model's per-item answers with a report's per-item
//! table and test lexicalisation and popularity as predictors of success.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use lexalign::outcome::{Correctness, MatchMode, Outcome, OutcomeParams, Plan, ResultsFile};
use lexalign::stats::{BootstrapConfig, MAX_RESAMPLES};

use super::pairs::per_file;

#[derive(Debug, Args)]
#[command(
    after_help = "Popularity (log1p_popularity), lexicalisation, cosine, ranks, token counts and the \
train/withheld split come from the items table (`lexalign report`'s OUT/pairs/NAME.csv); \
--predictor adds numeric columns of the results files.

Several tasks: give --items once per task (the task is its file stem) and the results in blocks \
of one file per --items, in the same order, one block per model: \
`--items a.csv --items b.csv --results m1_a.csv --results m1_b.csv --results m2_a.csv --results m2_b.csv \
--name m1 --name m2`. A model's files are pooled into one run, with the task as its group.

Fine-tuning: --before FILE --after FILE, or --results FILE --before-col A --after-col B, \
or --results FILE --category-col C (c kept, i never, g gained, l lost)."
)]
pub struct OutcomeArgs {
    /// Per-item table of a report (OUT/pairs/NAME.csv or .parquet); popularity comes
    /// from here. Repeatable: one per task (see below for pairing with --results).
    #[arg(long, value_name = "FILE", required = true)]
    pub items: Vec<PathBuf>,
    /// A model's per-item results (CSV, TSV or Parquet); repeatable (e.g. one per model).
    #[arg(long, value_name = "FILE", required_unless_present_all = ["before", "after"])]
    pub results: Vec<PathBuf>,
    /// Results of the base model (fine-tuning analysis; with --after).
    #[arg(
        long,
        value_name = "FILE",
        requires = "after",
        conflicts_with = "results"
    )]
    pub before: Option<PathBuf>,
    /// Results of the fine-tuned model, same items (with --before).
    #[arg(long, value_name = "FILE", requires = "before")]
    pub after: Option<PathBuf>,
    /// Column of the base model's 0/1 correctness in the one --results file.
    #[arg(long, value_name = "COL", requires = "after_col", conflicts_with_all = ["correct", "predicted", "category_col"])]
    pub before_col: Option<String>,
    /// Column of the fine-tuned model's 0/1 correctness in the one --results file.
    #[arg(long, value_name = "COL", requires = "before_col")]
    pub after_col: Option<String>,
    /// Column of fine-tuning categories c/i/g/l (kept/never/gained/lost) in the one --results file.
    #[arg(long, value_name = "COL", conflicts_with_all = ["correct", "predicted"])]
    pub category_col: Option<String>,
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
    /// A numeric column of the results to test as a predictor too; `log1p:COL` tests
    /// ln(1 + COL) as `log1p_COL` (e.g. a second popularity count); repeatable.
    #[arg(long = "predictor", value_name = "COL|log1p:COL")]
    pub predictors: Vec<String>,
    /// Name of each results file in outputs (default: its file name).
    #[arg(long, value_name = "NAME")]
    pub name: Vec<String>,
    /// Logistic terms, comma-separated (default: log1p_popularity,lexicalization);
    /// `log1p:COL` adds a results column on the log scale; `group` adds indicator
    /// terms of --group (or of the tasks), the first level in sorted order the reference.
    #[arg(long, value_delimiter = ',')]
    pub terms: Vec<String>,
    /// Firth's penalised likelihood for the logistic fits (few events, separation).
    #[arg(long)]
    pub firth: bool,
    /// Folds of the cross-validated AUCs (stratified, seeded by --seed; 0 = none).
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// Fit the logistic model on the results named NAME and score every other's items.
    #[arg(long, value_name = "NAME")]
    pub train_on: Option<String>,
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
    /// `--terms` with `log1p:COL` entries renamed `log1p_COL`, and the predictor
    /// specs those entries need.
    fn terms_and_predictors(&self) -> (Vec<String>, Vec<String>) {
        let mut predictors = self.predictors.clone();
        let terms = self
            .terms
            .iter()
            .map(|t| match t.strip_prefix("log1p:") {
                Some(col) => {
                    if !predictors.contains(t) {
                        predictors.push(t.clone());
                    }
                    format!("log1p_{col}")
                }
                None => t.clone(),
            })
            .collect();
        (terms, predictors)
    }

    /// The results files with their items table, and the fine-tuning pair.
    fn plan(&self) -> Result<Plan> {
        let (_, predictors) = self.terms_and_predictors();
        if self.before.is_some() || self.before_col.is_some() || self.category_col.is_some() {
            self.finetune_plan(predictors)
        } else {
            self.blocks_plan(predictors)
        }
    }

    /// Fine-tuning: two runs, "before" and "after", of the same items.
    fn finetune_plan(&self, predictors: Vec<String>) -> Result<Plan> {
        if self.items.len() > 1 {
            bail!("the fine-tuning analysis takes one --items table");
        }
        let names = match self.name.len() {
            0 => ["before".to_string(), "after".to_string()],
            2 => [self.name[0].clone(), self.name[1].clone()],
            m => bail!(
                "--name is given {m} times; fine-tuning takes two names (before, after) or none"
            ),
        };
        let id = match self.id.as_slice() {
            [one] => one.clone(),
            v => bail!(
                "--id is given {} times; fine-tuning takes one id column",
                v.len()
            ),
        };
        let spec = |file: PathBuf, name: String, correct: Correctness| ResultsFile {
            file,
            name,
            id: id.clone(),
            correct,
            group: self.group.first().cloned(),
            predictors: predictors.clone(),
        };
        let [bn, an] = names;
        let (b, a) = if let (Some(b), Some(a)) = (&self.before, &self.after) {
            let c = self.correctness(0, 1)?;
            (
                spec(b.clone(), bn.clone(), c.clone()),
                spec(a.clone(), an.clone(), c),
            )
        } else {
            let [file] = self.results.as_slice() else {
                bail!(
                    "--before-col/--after-col/--category-col read one --results file; {} given",
                    self.results.len()
                );
            };
            let (cb, ca) = match (&self.before_col, &self.after_col, &self.category_col) {
                (Some(b), Some(a), None) => (
                    Correctness::Column(b.clone()),
                    Correctness::Column(a.clone()),
                ),
                (None, None, Some(c)) => (
                    Correctness::Category {
                        column: c.clone(),
                        after: false,
                    },
                    Correctness::Category {
                        column: c.clone(),
                        after: true,
                    },
                ),
                _ => bail!("give --before-col A --after-col B, or --category-col C, not both"),
            };
            (
                spec(file.clone(), bn.clone(), cb),
                spec(file.clone(), an.clone(), ca),
            )
        };
        Ok(Plan {
            items: self.items.clone(),
            results: vec![(0, b), (0, a)],
            train_on: self.train_on.clone(),
            finetune: Some((bn, an)),
        })
    }

    /// One results file per --items table, or blocks of them (one block per model).
    fn blocks_plan(&self, predictors: Vec<String>) -> Result<Plan> {
        let k = self.items.len();
        let n = self.results.len();
        if !n.is_multiple_of(k) {
            bail!(
                "--results is given {n} times for {k} --items tables: give one results file per table \
                 (in --items order), or blocks of {k} (one block per model, each in --items order)"
            );
        }
        let names = self.names(n, k)?;
        let results = (0..n)
            .map(|i| {
                let pick = |flag: &str, v: &[String]| per_file(flag, "results", v, n, i);
                Ok((
                    i % k,
                    ResultsFile {
                        file: self.results[i].clone(),
                        name: names[i].clone(),
                        id: pick("id", &self.id)?.unwrap_or_default(),
                        correct: self.correctness(i, n)?,
                        group: pick("group", &self.group)?,
                        predictors: predictors.clone(),
                    },
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Plan {
            items: self.items.clone(),
            results,
            train_on: self.train_on.clone(),
            finetune: None,
        })
    }

    /// Each results file's name: --name per file or per block (model), else the
    /// file's stem (one table) or model1, model2, … (one per block).
    fn names(&self, n: usize, k: usize) -> Result<Vec<String>> {
        let blocks = n / k;
        Ok(match self.name.len() {
            0 if k == 1 => (0..n)
                .map(|i| {
                    self.results[i]
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_else(|| format!("results{}", i + 1))
                })
                .collect(),
            0 => (0..n).map(|i| format!("model{}", i / k + 1)).collect(),
            m if m == n => self.name.clone(),
            m if m == blocks => (0..n).map(|i| self.name[i / k].clone()).collect(),
            1 if n > 1 => bail!("--name is given once for {n} --results files; give one name per file"),
            m => bail!(
                "--name is given {m} times for {n} --results files in {blocks} block(s): give one per file or one per block (model)"
            ),
        })
    }

    /// How file `i` of `n` tells a correct answer.
    fn correctness(&self, i: usize, n: usize) -> Result<Correctness> {
        if self.correct.is_empty() && self.predicted.is_empty() {
            bail!(
                "say how to tell a correct answer: --correct COL, or --predicted COL --truth COL"
            );
        }
        let pick = |flag: &str, v: &[String]| per_file(flag, "results", v, n, i);
        Ok(match pick("correct", &self.correct)? {
            Some(c) => Correctness::Column(c),
            None => Correctness::Compare {
                predicted: pick("predicted", &self.predicted)?.unwrap_or_default(),
                truth: pick("truth", &self.truth)?.unwrap_or_default(),
                mode: self.match_mode,
            },
        })
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
        if self.folds == 1 {
            bail!("--folds 1: cross-validation needs at least 2 folds (0 turns it off)");
        }
        let (terms, _) = self.terms_and_predictors();
        Ok(OutcomeParams {
            bootstrap,
            permutations: self.permutations,
            terms: (!terms.is_empty()).then_some(terms),
            firth: self.firth,
            folds: self.folds,
        })
    }
}

/// Refuses, before any work, an `--out` whose files would replace an input.
fn refuse_overwrite(plan: &Plan, out: &std::path::Path) -> Result<()> {
    let mut inputs: Vec<(&str, &std::path::Path)> = plan
        .items
        .iter()
        .map(|p| ("--items", p.as_path()))
        .collect();
    inputs.extend(
        plan.results
            .iter()
            .map(|(_, r)| ("--results", r.file.as_path())),
    );
    let mut names: Vec<String> = [
        "outcome.json",
        "outcome.md",
        "figures",
        "finetune.csv",
        "joined.csv",
    ]
    .map(String::from)
    .to_vec();
    names.extend(
        plan.results
            .iter()
            .map(|(_, r)| format!("joined_{}.csv", r.name)),
    );
    let written: Vec<PathBuf> = names.iter().map(|n| out.join(n)).collect();
    let outputs: Vec<(&str, &std::path::Path)> =
        written.iter().map(|p| ("--out", p.as_path())).collect();
    Ok(lexalign::io::refuse_overwrite(&inputs, &outputs)?)
}

pub fn run(args: OutcomeArgs, quiet: bool) -> Result<()> {
    let plan = args.plan()?;
    let params = args.params()?;
    if args.out.exists() && !args.out.is_dir() {
        bail!("--out {}: is a file; expected a folder", args.out.display());
    }
    refuse_overwrite(&plan, &args.out)?;
    for (_, f) in &plan.results {
        if lexalign::io::read_text_table(&f.file).is_ok_and(|t| t.height() == 0) {
            bail!(
                "--results {}: has no rows (only a header); nothing to join",
                f.file.display()
            );
        }
    }
    let outcome = Outcome::run_plan(&plan, &params).context("outcome")?;
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
            if let Some(w) = r.logistic.as_ref().and_then(|l| l.warning.as_ref()) {
                eprintln!("{}: warning: {w}", r.name);
            }
        }
        if let Some(ft) = &outcome.finetune {
            for (split, g) in &ft.gains {
                println!(
                    "fine-tuning {split:<9} n {:>5}  learned {:>4}  forgotten {:>4}  kept {:>4}  never {:>4}  gain {:+.3} [{:+.3}, {:+.3}]",
                    g.n, g.learned, g.forgotten, g.kept, g.never, g.gain, g.gain_ci[0], g.gain_ci[1]
                );
            }
        }
        eprintln!("wrote {} files to {}", written.len(), args.out.display());
    }
    Ok(())
}
