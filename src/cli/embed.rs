//! `lexalign embed` and `lexalign tokens`: strings in, vectors or token statistics out.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use polars::prelude::*;

use lexalign::embed::{Device, EmbedOptions, Model, ModelOptions, Pooling};
use lexalign::io;
use lexalign::model::{Asked, VectorSetting};

/// Where the model comes from and how it runs (shared by several commands).
#[derive(Debug, Args, Clone)]
pub struct ModelArgs {
    /// Model: minilm, minilm-int8, minilm-int8-dynamic, smollm2 (installed) or a directory with model.onnx +
    /// tokenizer.json; default: minilm (all-MiniLM-L6-v2, fp32).
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
    /// Graph output to pool instead of last_hidden_state/token_embeddings (e.g. a hidden layer).
    #[arg(long = "output-name", value_name = "NAME")]
    pub output_name: Option<String>,
}

/// How ONNX Runtime runs a model: the flags every command that runs one shares
/// (`ask` too), turned into one [`ModelOptions`].
#[derive(Debug, Args, Clone)]
pub struct RuntimeArgs {
    /// Threads for inference and tokenisation (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// ONNX Runtime library (default: $ORT_DYLIB_PATH or the installed copy).
    #[arg(long = "ort-lib", value_name = "FILE")]
    pub ort_lib: Option<PathBuf>,
    /// cpu, or cuda (needs the GPU build of ONNX Runtime as --ort-lib; a clear error otherwise).
    #[arg(long, value_enum)]
    pub device: Option<Device>,
}

impl RuntimeArgs {
    /// The loading options these flags give (threads checked, library, device).
    pub fn options(&self) -> Result<ModelOptions> {
        let threads = lexalign::parallel::from_setting(self.threads.unwrap_or(0))?;
        let mut options = ModelOptions::default().with_threads(threads.get());
        if let Some(p) = &self.ort_lib {
            options = options.with_ort_library(p);
        }
        options.device = self.device.unwrap_or_default();
        Ok(options)
    }

    /// The same settings for a decoder's generation graph (`ask`).
    pub fn decoder_options(&self) -> Result<lexalign::generate::DecoderOptions> {
        let o = self.options()?;
        Ok(lexalign::generate::DecoderOptions {
            threads: o.threads,
            ort_library: o.ort_library,
            device: o.device,
        })
    }
}

impl ModelArgs {
    /// The model directory: `--model` or the installed default.
    pub fn dir(&self) -> PathBuf {
        self.model
            .as_deref()
            .map(lexalign::assets::model_dir)
            .unwrap_or_else(lexalign::assets::default_model_dir)
    }

    pub fn load(&self) -> Result<Model> {
        self.load_with(|o| o)
    }

    /// Loads the model with these flags' options, adjusted by `adjust` (e.g. a
    /// setting only `bench` exposes).
    pub fn load_with(&self, adjust: impl FnOnce(ModelOptions) -> ModelOptions) -> Result<Model> {
        Ok(Model::load_with(self.dir(), &adjust(self.options()?))?)
    }

    /// The loading options these flags give (threads, library, output, device).
    pub fn options(&self) -> Result<ModelOptions> {
        let mut options = self.runtime.options()?;
        if let Some(o) = &self.output_name {
            options = options.with_output(o);
        }
        Ok(options)
    }

    /// Sets a report's model settings from these flags (flags win over the file).
    pub fn apply(&self, config: &mut lexalign::report::Config) {
        if let Some(m) = &self.model {
            config.model = Some(m.clone());
        }
        let r = &self.runtime;
        if let Some(t) = r.threads {
            config.threads = std::num::NonZeroUsize::new(t);
        }
        if let Some(p) = &r.ort_lib {
            config.ort_lib = Some(p.clone());
        }
        if let Some(o) = &self.output_name {
            config.output_name = Some(o.clone());
        }
        if let Some(d) = r.device {
            config.device = d;
        }
    }
}

/// The strings to process (shared by `embed` and `tokens`).
#[derive(Debug, Args, Clone)]
pub struct InputArgs {
    /// Strings: a text file (one per line) or CSV/TSV/Parquet with --column.
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// Column holding the strings (tables only).
    #[arg(long, value_name = "NAME")]
    pub column: Option<String>,
}

impl InputArgs {
    fn read(&self) -> Result<Vec<String>> {
        Ok(io::read_strings(&self.input, self.column.as_deref())?)
    }
}

#[derive(Debug, Args)]
pub struct EmbedArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub input: InputArgs,
    /// Output: .npy (float32 [n, dim], input order) or .parquet (text + vector).
    #[arg(long, value_name = "FILE")]
    pub output: PathBuf,
    /// Pooling of token vectors (default: the model's own, from its lexalign.json, else mean).
    #[arg(long, value_enum)]
    pub pooling: Option<Pooling>,
    /// L2-normalise each vector.
    #[arg(long)]
    pub normalize: bool,
    /// Static embeddings: mean of the input-embedding rows of each string's tokens.
    #[arg(long = "static")]
    pub static_tokens: bool,
    /// Most strings per batch.
    #[arg(long = "batch-size", default_value_t = 256)]
    pub batch_size: usize,
    /// Most padded tokens per batch.
    #[arg(long = "batch-tokens", default_value_t = 8192)]
    pub batch_tokens: usize,
    /// Skip the on-disk embedding cache.
    #[arg(long = "no-cache")]
    pub no_cache: bool,
    /// Embed only shard K of N (e.g. a Slurm array task) into the shared cache; the
    /// output holds that shard's strings. A later run without --shard reads all shards.
    #[arg(long, value_name = "K/N", conflicts_with = "no_cache")]
    pub shard: Option<lexalign::embed::Shard>,
    /// Pool this layer's states: 0 = token embeddings, 1.. = output of layer i, the
    /// model's layer count = final states (default: the final states). Needs a
    /// per-layer output (decoders imported by `lexalign model import` have one).
    #[arg(long, value_name = "N")]
    pub layer: Option<usize>,
    /// Wrap each string before tokenisation, e.g. 'The gene symbol {} means'; exactly
    /// one `{}` marks where the string goes. For decoders (last-token pooling) the
    /// vector is the prompt's last token; for mean pooling the template's tokens
    /// are averaged in too. Part of the cache key.
    #[arg(long, value_name = "TEXT")]
    pub template: Option<String>,
    /// Run every string whole. By default a decoder with embed_past.onnx runs a
    /// prefix that several strings begin with once (last pooling; same vectors to
    /// float rounding, fewer tokens computed).
    #[arg(long = "no-prefix-sharing")]
    pub no_prefix_sharing: bool,
}

/// `--layer N|all` for `tokens --vectors`.
#[derive(Debug, Clone, PartialEq)]
pub enum LayerChoice {
    One(usize),
    All,
}

fn parse_layer_choice(s: &str) -> std::result::Result<LayerChoice, String> {
    if s.eq_ignore_ascii_case("all") {
        return Ok(LayerChoice::All);
    }
    s.parse::<usize>()
        .map(LayerChoice::One)
        .map_err(|_| format!("{s:?}: expected a layer number or `all`"))
}

#[derive(Debug, Args)]
pub struct TokensArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub input: InputArgs,
    /// Output: .csv or .parquet, one row per input string.
    #[arg(long, value_name = "FILE")]
    pub output: PathBuf,
    /// Also write every token's contextual vector here (.parquet): one row per
    /// string, layer and token, with columns string_index, text, token_index, piece,
    /// token_id, start, end (byte offsets into the string), layer, vector.
    #[arg(long, value_name = "FILE")]
    pub vectors: Option<PathBuf>,
    /// Layer of the token vectors: a number (0 = token embeddings … the model's
    /// layer count = final states) or `all`; default: the final states.
    #[arg(long, value_name = "N|all", value_parser = parse_layer_choice, requires = "vectors")]
    pub layer: Option<LayerChoice>,
}

/// Fails early when `--output` cannot be written, before any model work: a wrong
/// extension, a directory in the file's place, a missing or unwritable folder.
pub fn check_output(path: &Path, allowed: &[&str]) -> Result<()> {
    let ext = io::extension(path);
    if !allowed.contains(&ext.as_str()) {
        bail!(
            "--output {}: unsupported output extension {ext:?}; expected one of {}",
            path.display(),
            allowed.join(", ")
        );
    }
    if path.is_dir() {
        bail!(
            "--output {}: is a directory; --output needs a file name such as {}",
            path.display(),
            path.join(format!("out.{}", allowed[0])).display()
        );
    }
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        let problem = if parent.exists() {
            "is not a directory"
        } else {
            "does not exist"
        };
        bail!(
            "--output {}: output directory {} {problem}",
            path.display(),
            parent.display()
        );
    }
    // The same temp file the atomic write will make: catches read-only folders.
    tempfile::Builder::new()
        .prefix(".lexalign-")
        .tempfile_in(parent)
        .with_context(|| {
            format!(
                "--output {}: cannot write in {}",
                path.display(),
                parent.display()
            )
        })?;
    Ok(())
}

/// Fails when two paths name the same file (outputs that would overwrite each other
/// or an input); `flags` name them in the message.
pub fn check_distinct(a: &Path, b: &Path, flags: &str) -> Result<()> {
    if io::same_file(a, b) {
        bail!(
            "{flags} both name {}; one would overwrite the other",
            a.display()
        );
    }
    Ok(())
}

pub fn run_embed(args: EmbedArgs, quiet: bool) -> Result<()> {
    check_output(&args.output, &["npy", "parquet"])?;
    io::refuse_overwrite(
        &[("--input", &args.input.input)],
        &[("--output", &args.output)],
    )?;
    // Checked before the model loads (a bad template fails fast).
    let asked = Asked {
        pooling: args.pooling,
        normalize: args.normalize.then_some(true),
        template: args.template.clone(),
    };
    let setting = VectorSetting::for_dir(&args.model.dir(), &asked)?;
    let mut texts = args.input.read()?;
    if let Some(shard) = args.shard {
        let all = texts.len();
        texts.retain(|t| shard.owns(t));
        if !quiet {
            eprintln!("shard {shard}: {} of {all} strings", texts.len());
        }
    }
    let model = args.model.load()?;
    let options = EmbedOptions::default()
        .with_setting(&setting)
        .with_layer(args.layer)
        .with_static(args.static_tokens)
        .with_batch_size(args.batch_size)
        .with_batch_tokens(args.batch_tokens)
        .with_share_prefixes(!args.no_prefix_sharing)
        .with_cache(if args.no_cache {
            None
        } else {
            Some(lexalign::embed::default_cache_dir())
        })
        .with_progress(!quiet);
    let emb = model.embed(&texts, &options)?;
    match io::extension(&args.output).as_str() {
        "npy" => io::write_npy(&args.output, &emb.vectors)?,
        _ => {
            let dim = emb.vectors.ncols();
            let mut builder = ListPrimitiveChunkedBuilder::<Float32Type>::new(
                "vector".into(),
                emb.vectors.nrows(),
                emb.vectors.nrows() * dim,
                DataType::Float32,
            );
            for row in emb.vectors.rows() {
                builder.append_slice(row.as_slice().context("row layout")?);
            }
            let vectors = builder.finish().into_series();
            let mut df = DataFrame::new_infer_height(vec![
                Column::new("text".into(), &emb.texts),
                vectors.into(),
            ])?;
            io::write_table(&args.output, &mut df)?;
        }
    }
    if !quiet {
        let s = &emb.stats;
        eprintln!(
            "embedded {} strings ({} distinct, {} from cache, {} computed{}; {} truncated at {} tokens; {} empty{}) with {} [{} pooling{}{}{}{}] → {}",
            s.strings,
            s.distinct,
            s.from_cache,
            s.computed,
            if s.shared_tokens > 0 {
                format!(
                    " ({} of {} tokens not recomputed: prefixes that several strings share ran once)",
                    s.shared_tokens, s.real_tokens
                )
            } else {
                String::new()
            },
            s.truncated,
            emb.model.max_length,
            s.empty,
            if s.no_tokens > 0 {
                format!(", {} with no tokens at all → zero vectors", s.no_tokens)
            } else {
                String::new()
            },
            emb.model.name,
            setting.pooling.as_str(),
            if setting.normalize { ", normalised" } else { "" },
            if args.static_tokens { ", static" } else { "" },
            args.layer.map(|l| format!(", layer {l}")).unwrap_or_default(),
            options
                .active_template()
                .map(|t| format!(", template {t:?}"))
                .unwrap_or_default(),
            args.output.display()
        );
    }
    Ok(())
}

pub fn run_tokens(args: TokensArgs, quiet: bool) -> Result<()> {
    check_output(&args.output, &["csv", "parquet"])?;
    if let Some(v) = &args.vectors {
        check_output(v, &["parquet"]).context("--vectors")?;
        check_distinct(&args.output, v, "--output and --vectors")?;
    }
    let mut outputs = vec![("--output", args.output.as_path())];
    outputs.extend(args.vectors.as_deref().map(|v| ("--vectors", v)));
    io::refuse_overwrite(&[("--input", &args.input.input)], &outputs)?;
    let texts = args.input.read()?;
    let model = args.model.load()?;
    if let Some(path) = &args.vectors {
        let rows = write_token_vectors(&model, &texts, args.layer.as_ref(), path)?;
        if !quiet {
            eprintln!(
                "wrote {rows} token vectors of {} strings → {}",
                texts.len(),
                path.display()
            );
        }
    }
    let stats = model.token_stats(&texts)?;
    let col = |name: &str, v: Vec<u32>| Column::new(name.into(), v);
    let mut df = DataFrame::new_infer_height(vec![
        Column::new(
            "text".into(),
            stats.iter().map(|s| s.text.as_str()).collect::<Vec<_>>(),
        ),
        col(
            "n_tokens",
            stats.iter().map(|s| s.n_tokens as u32).collect(),
        ),
        Column::new(
            "pieces".into(),
            stats.iter().map(|s| s.pieces.join(" ")).collect::<Vec<_>>(),
        ),
        col(
            "n_continuation",
            stats.iter().map(|s| s.n_continuation as u32).collect(),
        ),
        col(
            "n_unknown",
            stats.iter().map(|s| s.n_unknown as u32).collect(),
        ),
        Column::new(
            "single_token".into(),
            stats.iter().map(|s| s.single_token).collect::<Vec<_>>(),
        ),
        Column::new(
            "truncated".into(),
            stats.iter().map(|s| s.truncated).collect::<Vec<_>>(),
        ),
    ])?;
    io::write_table(&args.output, &mut df)?;
    if !quiet {
        eprintln!(
            "tokenised {} strings with {} → {}",
            stats.len(),
            model.info().name,
            args.output.display()
        );
    }
    Ok(())
}

/// Writes one row per string, layer and token (see `TokensArgs::vectors`);
/// returns the number of rows.
fn write_token_vectors(
    model: &Model,
    texts: &[String],
    layer: Option<&LayerChoice>,
    path: &Path,
) -> Result<usize> {
    let info = model.info();
    let final_layer = info.layers.map(|l| l as u32);
    let per_string = match layer {
        None => model
            .token_embeddings(texts)?
            .into_iter()
            .map(|t| vec![t])
            .collect(),
        Some(LayerChoice::One(n)) => model.token_embeddings_layers(texts, &[*n])?,
        Some(LayerChoice::All) => {
            let Some(last) = info.layers else {
                bail!(
                    "--layer all: model {} has no per-layer output (such as hidden_states); only its final states can be written",
                    info.name
                );
            };
            let all: Vec<usize> = (0..=last).collect();
            model.token_embeddings_layers(texts, &all)?
        }
    };
    let rows: usize = per_string.iter().flatten().map(|t| t.vectors.nrows()).sum();
    let dim = per_string
        .iter()
        .flatten()
        .map(|t| t.vectors.ncols())
        .max()
        .unwrap_or(0);
    let (mut string_index, mut text, mut token_index, mut piece) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut token_id, mut start, mut end, mut layers) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut vectors = ListPrimitiveChunkedBuilder::<Float32Type>::new(
        "vector".into(),
        rows,
        rows * dim,
        DataType::Float32,
    );
    for (i, entries) in per_string.iter().enumerate() {
        for t in entries {
            for (k, row) in t.vectors.rows().into_iter().enumerate() {
                string_index.push(i as u32);
                text.push(t.text.as_str());
                token_index.push(k as u32);
                piece.push(t.tokens[k].as_str());
                token_id.push(t.ids[k]);
                start.push(t.byte_offsets[k].0 as u32);
                end.push(t.byte_offsets[k].1 as u32);
                layers.push(t.layer.map(|l| l as u32).or(final_layer));
                vectors.append_slice(row.as_slice().context("row layout")?);
            }
        }
    }
    let mut df = DataFrame::new_infer_height(vec![
        Column::new("string_index".into(), string_index),
        Column::new("text".into(), text),
        Column::new("token_index".into(), token_index),
        Column::new("piece".into(), piece),
        Column::new("token_id".into(), token_id),
        Column::new("start".into(), start),
        Column::new("end".into(), end),
        Column::new("layer".into(), layers),
        vectors.finish().into_series().into(),
    ])?;
    io::write_table(path, &mut df)?;
    Ok(rows)
}
