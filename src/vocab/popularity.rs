//! Popularity proxies, one per vocabulary:
//! - genes: distinct PubMed articles per NCBI Gene ID (`pubmed` table of
//!   `org.Hs.eg.sqlite`, i.e. NCBI gene2pubmed);
//! - GO: distinct human genes annotated to a term, direct (`go_bp/mf/cc`) or
//!   propagated to ancestors (`go_*_all`), from the same file;
//! - HPO: distinct diseases annotated to a term in `phenotype.hpoa`, direct or
//!   propagated to `is_a` ancestors. `NOT` annotations (the disease lacks the
//!   feature) are not counted.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::error::{Error, Result};
use crate::source::Source;
use crate::vocab::obo::OboDocument;
use crate::vocab::sqlite::Db;

fn open_org(org: &Path, tables: &[&str]) -> Result<Db> {
    let db = Db::open(org, &Source::NcbiGene.what())?;
    db.require_tables(tables)?;
    Ok(db)
}

/// The Entrez Gene source date of `org.Hs.eg.sqlite` (`metadata.EGSOURCEDATE`,
/// e.g. `2022-Sep12`), or `unknown date`.
pub fn entrez_gene_date(org: &Path) -> Result<String> {
    let db = open_org(org, &[])?;
    Ok(db
        .metadata("EGSOURCEDATE")?
        .unwrap_or_else(|| "unknown date".into()))
}

/// PubMed article counts per NCBI Gene ID for every gene in `org.Hs.eg.sqlite`
/// (0 for genes without articles).
pub fn gene_pubmed_counts(org: &Path) -> Result<HashMap<String, u64>> {
    let db = open_org(org, &["genes", "pubmed"])?;
    let mut counts = HashMap::new();
    db.each_row(
        "SELECT g.gene_id, COUNT(DISTINCT p.pubmed_id) FROM genes g \
         LEFT JOIN pubmed p ON p._id = g._id GROUP BY g._id",
        |r| {
            counts.insert(r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64);
            Ok(())
        },
    )?;
    Ok(counts)
}

/// Distinct human genes per GO id over the three aspects; `propagated` uses the
/// `go_*_all` tables (annotations passed up to every ancestor).
pub fn go_gene_counts(org: &Path, propagated: bool) -> Result<HashMap<String, u64>> {
    let suffix = if propagated { "_all" } else { "" };
    let tables: Vec<String> = ["go_bp", "go_mf", "go_cc"]
        .iter()
        .map(|t| format!("{t}{suffix}"))
        .collect();
    let names: Vec<&str> = tables.iter().map(String::as_str).collect();
    let db = open_org(org, &names)?;
    // A sequential scan aggregated here is several times faster than
    // COUNT(DISTINCT) through the go_id index (random reads).
    let mut genes: HashMap<String, Vec<i64>> = HashMap::new();
    for t in &tables {
        db.each_row(&format!("SELECT go_id, _id FROM {t}"), |row| {
            // Borrowed text: no allocation for ids already seen.
            let id = row.get_ref(0)?.as_str()?;
            let gene: i64 = row.get(1)?;
            match genes.get_mut(id) {
                Some(v) => v.push(gene),
                None => {
                    genes.insert(id.to_string(), vec![gene]);
                }
            }
            Ok(())
        })?;
    }
    let counts = genes
        .into_iter()
        .map(|(id, mut v)| {
            v.sort_unstable();
            v.dedup();
            (id, v.len() as u64)
        })
        .collect();
    Ok(counts)
}

/// Disease annotations from `phenotype.hpoa`.
#[derive(Debug, Clone, Default)]
pub struct HpoAnnotations {
    /// `#version:` from the file header (e.g. `2025-01-16`).
    pub version: Option<String>,
    /// Annotation rows read (excluding header and comment lines).
    pub rows: usize,
    /// Rows skipped because their qualifier is `NOT`.
    pub not_rows: usize,
    /// Distinct diseases.
    pub diseases: Vec<String>,
    /// Term → indices into `diseases` (positive annotations only).
    pub by_term: HashMap<String, HashSet<u32>>,
}

impl HpoAnnotations {
    /// Distinct diseases annotated directly to each term.
    pub fn direct_counts(&self) -> HashMap<String, u64> {
        self.by_term
            .iter()
            .map(|(t, d)| (t.clone(), d.len() as u64))
            .collect()
    }

    /// Distinct diseases annotated to each term or any `is_a` descendant.
    /// Annotations to alternative ids are moved to their primary term.
    pub fn propagated_counts(&self, obo: &OboDocument) -> HashMap<String, u64> {
        let index: HashMap<&str, usize> = obo
            .terms
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.as_str(), i))
            .collect();
        let mut alias: HashMap<&str, usize> = HashMap::new();
        for (i, t) in obo.terms.iter().enumerate() {
            for a in &t.alt_ids {
                alias.insert(a.as_str(), i);
            }
        }
        let parents: Vec<Vec<usize>> = obo
            .terms
            .iter()
            .map(|t| {
                t.is_a
                    .iter()
                    .filter_map(|p| index.get(p.as_str()).copied())
                    .collect()
            })
            .collect();
        let mut sets: Vec<HashSet<u32>> = vec![HashSet::new(); obo.terms.len()];
        let mut stack = Vec::new();
        let mut visited = vec![usize::MAX; obo.terms.len()];
        for (term, diseases) in &self.by_term {
            let Some(&start) = index
                .get(term.as_str())
                .or_else(|| alias.get(term.as_str()))
            else {
                continue;
            };
            // Walk the ancestor closure once per annotated term.
            stack.clear();
            stack.push(start);
            visited[start] = start;
            while let Some(n) = stack.pop() {
                sets[n].extend(diseases.iter().copied());
                for &p in &parents[n] {
                    if visited[p] != start {
                        visited[p] = start;
                        stack.push(p);
                    }
                }
            }
        }
        obo.terms
            .iter()
            .zip(sets)
            .map(|(t, s)| (t.id.clone(), s.len() as u64))
            .collect()
    }
}

/// Reads `phenotype.hpoa` (tab-separated, `#` header lines, then a column header
/// with `database_id`, `qualifier` and `hpo_id`).
pub fn read_hpoa(path: &Path) -> Result<HpoAnnotations> {
    crate::assets::require(path, &Source::HpoAnnotations.what())?;
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut out = HpoAnnotations::default();
    let mut cols: Option<(usize, usize, usize)> = None;
    let mut disease_index: HashMap<&str, u32> = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if let Some(meta) = line.strip_prefix('#') {
            if let Some(v) = version_of(meta) {
                out.version = Some(v);
            }
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let Some((db_c, q_c, hp_c)) = cols else {
            let find = |n: &str| {
                fields
                    .iter()
                    .position(|f| *f == n)
                    .ok_or_else(|| Error::MissingColumn {
                        path: path.to_path_buf(),
                        column: n.to_string(),
                        available: fields.join(", "),
                    })
            };
            cols = Some((find("database_id")?, find("qualifier")?, find("hpo_id")?));
            continue;
        };
        let need = db_c.max(q_c).max(hp_c);
        if fields.len() <= need {
            return Err(Error::parse(
                path,
                line_no,
                format!(
                    "expected at least {} tab-separated fields, found {}",
                    need + 1,
                    fields.len()
                ),
            ));
        }
        out.rows += 1;
        if fields[q_c].trim() == "NOT" {
            out.not_rows += 1;
            continue;
        }
        let disease = fields[db_c].trim();
        let next = disease_index.len() as u32;
        let d = *disease_index.entry(disease).or_insert_with(|| {
            out.diseases.push(disease.to_string());
            next
        });
        out.by_term
            .entry(fields[hp_c].trim().to_string())
            .or_default()
            .insert(d);
    }
    if cols.is_none() {
        return Err(Error::parse(
            path,
            1,
            "no column header row (database_id, qualifier, hpo_id, …)",
        ));
    }
    Ok(out)
}

/// The value of a `#version:` header line (given without its `#`).
fn version_of(meta: &str) -> Option<String> {
    meta.strip_prefix("version:").map(|v| v.trim().to_string())
}

/// The `#version:` of `phenotype.hpoa`, read from the `#` header lines only.
pub fn read_hpoa_version(path: &Path) -> Result<Option<String>> {
    use std::io::BufRead;
    crate::assets::require(path, &Source::HpoAnnotations.what())?;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut version = None;
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(|e| Error::io(path, e))?;
        let Some(meta) = line.strip_prefix('#') else {
            break;
        };
        // The last one wins, as in `read_hpoa`.
        version = version_of(meta).or(version);
    }
    Ok(version)
}
