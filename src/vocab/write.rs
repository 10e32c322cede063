//! [`VocabSet::write`]: the processed folder `lexalign vocab build` leaves.

use std::path::{Path, PathBuf};
use std::time::Instant;

use polars::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::io::{write_json_atomic, write_table, OutputSet};
use crate::pairs::{sample_paper, Pairing, SampleParams, VOCAB_JSON};
use crate::source::SourceInfo;
use crate::vocab::{ConceptSet, Counts, PairingStats, VocabSet, PAIRING_DEFS};

/// What [`VocabSet::write`] produced.
#[derive(Debug, Clone, Serialize)]
pub struct BuildSummary {
    pub sources: Vec<SourceInfo>,
    pub counts: Counts,
    pub pairings: Vec<PairingStats>,
    pub sample: SampleSummary,
    pub timings: Vec<(String, f64)>,
    #[serde(serialize_with = "crate::assets::serialize_shown_paths")]
    pub files: Vec<PathBuf>,
}

/// Sampling parameters as recorded in `vocab.json`.
#[derive(Debug, Clone, Serialize)]
pub struct SampleSummary {
    pub per_split: usize,
    pub bins: u32,
    pub seed: u64,
    pub scheme: String,
}

impl VocabSet {
    /// Writes `dir/concepts/{hgnc,go,hpo}.{csv,parquet}`, `dir/pairs/<pairing>.{csv,parquet}`
    /// (full sets), `dir/pairs/<pairing>.paper.{csv,parquet}` (paper samples),
    /// `dir/pairs/<pairing>.meta.json` and `dir/vocab.json` (sources, counts,
    /// timings). GO pairings get an extra `aspect` column. The three entries are
    /// staged and swapped in as one set ([`OutputSet`]): a failure leaves the
    /// previous build whole; `concepts/` and `pairs/` are replaced whole.
    pub fn write(&self, dir: &Path, params: &SampleParams) -> Result<BuildSummary> {
        params.validate()?;
        let mut set = OutputSet::new();
        let stage = set.stage(dir)?;
        let mut summary = self.write_staged(&stage, params)?;
        let info = stage.join(VOCAB_JSON);
        summary.files.push(info);
        // Files are listed where they will be once the set is in place.
        for f in &mut summary.files {
            if let Ok(rel) = f.strip_prefix(&stage) {
                *f = dir.join(rel);
            }
        }
        write_json_atomic(&stage.join(VOCAB_JSON), &summary)?;
        set.commit()?;
        Ok(summary)
    }

    /// The whole set into `dir` (a staging folder); `vocab.json` not yet written.
    fn write_staged(&self, dir: &Path, params: &SampleParams) -> Result<BuildSummary> {
        let mut files = Vec::new();
        let mut timings = self.timings.clone();
        let clock = Instant::now();
        self.write_concepts(&dir.join("concepts"), &mut files)?;
        timings.push(("write concept tables".into(), clock.elapsed().as_secs_f64()));
        let clock = Instant::now();
        let stats = self.write_pairings(&dir.join("pairs"), params, &mut files)?;
        timings.push((
            "bin, sample and write pairings".into(),
            clock.elapsed().as_secs_f64(),
        ));
        Ok(BuildSummary {
            sources: self.sources.clone(),
            counts: self.counts(),
            pairings: stats,
            sample: SampleSummary {
                per_split: params.per_split,
                bins: params.bins,
                seed: params.seed,
                scheme: "log-scale equal-width bins over log(1 + popularity); equal pair quota per bin, water-filled".into(),
            },
            timings,
            files,
        })
    }

    /// `<name>.{csv,parquet}` per concept table.
    fn write_concepts(&self, dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        for (name, mut df) in self.concept_tables()? {
            for ext in ["csv", "parquet"] {
                let p = dir.join(format!("{name}.{ext}"));
                write_table(&p, &mut df)?;
                files.push(p);
            }
        }
        Ok(())
    }

    /// Full set, paper sample and metadata per pairing.
    fn write_pairings(
        &self,
        dir: &Path,
        params: &SampleParams,
        files: &mut Vec<PathBuf>,
    ) -> Result<Vec<PairingStats>> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut stats = Vec::new();
        for (def, (pairing, st)) in PAIRING_DEFS.iter().zip(self.pairings_with_stats()) {
            let pairing = pairing.with_bins(params)?;
            let sample = sample_paper(&pairing, params)?;
            let with_aspect = def.concepts == ConceptSet::Go;
            for (p, stem) in [
                (&pairing, pairing.name.clone()),
                (&sample, format!("{}.paper", pairing.name)),
            ] {
                let extra = if with_aspect {
                    vec![self.aspect_column(p)]
                } else {
                    Vec::new()
                };
                p.write(dir, &stem, extra)?;
                files.push(dir.join(format!("{stem}.csv")));
                files.push(dir.join(format!("{stem}.parquet")));
            }
            files.push(dir.join(format!("{}.meta.json", pairing.name)));
            stats.push(st);
        }
        Ok(stats)
    }

    /// The GO aspect of each row's concept (empty if unknown).
    fn aspect_column(&self, p: &Pairing) -> Column {
        let aspects = self.go_aspects();
        let a: Vec<&str> = p
            .concept_id
            .iter()
            .map(|id| aspects.get(id.as_str()).copied().unwrap_or(""))
            .collect();
        Column::new("aspect".into(), a)
    }
}
