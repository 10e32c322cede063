//! Every integration test in one binary: one link instead of one per file, and the test
//! threads share out all the tests, not one file's at a time. Run one file's tests with
//! `cargo test --test integration FILE::` (e.g. `decoder_reference::`).

mod common;

mod ask_cli;
mod bench_suite;
mod checkpoint_folders;
mod cli_embed;
mod decoder_prefix;
mod decoder_reference;
mod embed_reference;
mod faults;
mod faults_assets;
mod faults_embed;
mod faults_outputs;
mod generate_reference;
mod gguf_families;
mod manifest_schema;
mod metrics_known;
mod notebooks;
mod obo_parser;
mod outcome_cli;
mod outcome_predictive;
mod outcome_reference;
mod pca_exact;
mod plot_render;
mod readers_never_panic;
mod report_layers;
mod report_models;
mod report_run;
mod retrieval_shards;
mod shard;
mod template;
mod vocab_facts;
