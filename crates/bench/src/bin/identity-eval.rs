//! `identity-eval`: how well and how fast the identity engine finds people, measured on the
//! labelled evaluation set that `scripts/gen-eval-set.py` generates (`make eval`), against a
//! plain PostgreSQL trigram search (`pg_trgm` `similarity()`) run on the same data in the same
//! run, and at a million registered people for speed.
//!
//! Reports recall@1, recall@10, mean reciprocal rank and false hits per noise type, the
//! calibration of the confidence, list reconciliation (precision, recall, F1, substitutions
//! flagged), and search latency, index build time and memory. Writes Markdown to stdout and,
//! with `--report`, to a file.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Parser;
use futures::{StreamExt, TryStreamExt};
use homeward_identity::{
    BirthDate, Compiled, Identity, Index, Name, SearchOptions, Sex, compile, score,
};
use serde::Deserialize;

#[derive(Parser)]
#[command(about = "Measures the identity engine on the labelled evaluation set")]
struct Args {
    /// Folder written by scripts/gen-eval-set.py.
    #[arg(long, default_value = "target/eval")]
    data: PathBuf,
    /// PostgreSQL server for the pg_trgm baseline (a fresh database is created and dropped).
    #[arg(
        long,
        env = "HOMEWARD_BENCH_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    database_url: String,
    /// Leave out the pg_trgm baseline.
    #[arg(long)]
    no_baseline: bool,
    /// Registered people for the speed measurement (0 leaves it out).
    #[arg(long, default_value_t = 1_000_000)]
    speed_people: usize,
    /// Confidence from which a candidate counts as a hit (MatchPersons' default).
    #[arg(long, default_value_t = 0.5)]
    threshold: f64,
    /// Also write the report here.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Print the false hits and unflagged substitutions with their explanations to stderr.
    #[arg(long)]
    show_failures: bool,
}

#[derive(Deserialize, Clone)]
struct JName {
    family: String,
    given: String,
    patronymic: String,
}

#[derive(Deserialize, Clone, Copy)]
struct JDate {
    year: i32,
    month: Option<u8>,
    day: Option<u8>,
}

#[derive(Deserialize, Clone)]
struct Record {
    #[serde(default)]
    id: String,
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    person: Option<String>,
    #[serde(default)]
    noise: Vec<String>,
    #[serde(default)]
    list: String,
    #[serde(default, rename = "ref")]
    reference: String,
    #[serde(default)]
    substitution_of: Option<String>,
    names: Vec<JName>,
    birth_date: Option<JDate>,
    #[serde(default)]
    sex: String,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    service_number: String,
}

impl Record {
    fn identity(&self) -> Identity {
        Identity {
            names: self
                .names
                .iter()
                .map(|n| Name::parts(&n.family, &n.given, &n.patronymic))
                .collect(),
            birth_date: self.birth_date.map(|d| BirthDate {
                year: d.year,
                month: d.month,
                day: d.day,
            }),
            sex: match self.sex.as_str() {
                "male" => Sex::Male,
                "female" => Sex::Female,
                _ => Sex::Unknown,
            },
            unit: self.unit.clone(),
            service_number: self.service_number.clone(),
            documents: vec![],
        }
    }

    /// The name as one line, as a trigram search would be typed.
    fn text(&self) -> String {
        self.names
            .first()
            .map(|n| {
                [&n.family, &n.given, &n.patronymic]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default()
    }
}

/// "p000123" → 123.
fn number(id: &str) -> u128 {
    id.trim_start_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .unwrap_or(u128::MAX)
}

fn read(path: &Path) -> Result<Vec<Record>, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "{}: {e} (generate the set first: make eval, or python3 scripts/gen-eval-set.py)",
            path.display()
        )
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        out.push(
            serde_json::from_str(line).map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?,
        );
    }
    Ok(out)
}

#[derive(Default, Clone, Copy)]
struct Tally {
    probes: usize,
    at1: usize,
    at10: usize,
    reciprocal: f64,
    /// Unregistered people whose best candidate reached the threshold.
    false_hits: usize,
    unregistered: usize,
}

impl Tally {
    fn add(&mut self, rank: Option<usize>, registered: bool, false_hit: bool) {
        if registered {
            self.probes += 1;
            if rank == Some(0) {
                self.at1 += 1;
            }
            if rank.is_some_and(|r| r < 10) {
                self.at10 += 1;
            }
            if let Some(r) = rank {
                self.reciprocal += 1.0 / (r + 1) as f64;
            }
        } else {
            self.unregistered += 1;
            self.false_hits += usize::from(false_hit);
        }
    }

    fn row(&self) -> String {
        let ratio = |a: usize, b: usize| {
            if b == 0 {
                "–".to_string()
            } else {
                format!("{:.3}", a as f64 / b as f64)
            }
        };
        format!(
            "{} | {} | {} | {} | {} | {}",
            self.probes,
            ratio(self.at1, self.probes),
            ratio(self.at10, self.probes),
            if self.probes == 0 {
                "–".into()
            } else {
                format!("{:.3}", self.reciprocal / self.probes as f64)
            },
            self.unregistered,
            ratio(self.false_hits, self.unregistered),
        )
    }
}

/// Counts one probe overall and under each of its noise types.
fn record(
    overall: &mut Tally,
    by_noise: &mut BTreeMap<String, Tally>,
    probe: &Record,
    rank: Option<usize>,
    false_hit: bool,
) {
    let registered = probe.target.is_some();
    overall.add(rank, registered, false_hit);
    for noise in &probe.noise {
        by_noise
            .entry(noise.clone())
            .or_default()
            .add(rank, registered, false_hit);
    }
}

fn tally_table(title: &str, tallies: &BTreeMap<String, Tally>) -> String {
    let mut out = format!(
        "\n### {title}\n\n| noise | probes | recall@1 | recall@10 | MRR | unregistered | false hits |\n|---|---|---|---|---|---|---|\n"
    );
    for (noise, t) in tallies {
        let _ = writeln!(out, "| {noise} | {} |", t.row());
    }
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// Resident memory of this process, from /proc (0 where there is none).
fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Logistic regression of the label on the weight (Newton's method): the calibration.
fn fit(samples: &[(f64, bool)]) -> (f64, f64) {
    let (mut a, mut b) = (score::CALIBRATION_SLOPE, score::CALIBRATION_INTERCEPT);
    for _ in 0..50 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for &(w, y) in samples {
            let p = 1.0 / (1.0 + (-(a * w + b)).exp());
            let e = p - f64::from(u8::from(y));
            ga += e * w;
            gb += e;
            let v = (p * (1.0 - p)).max(1e-9);
            haa += v * w * w;
            hab += v * w;
            hbb += v;
        }
        let det = haa * hbb - hab * hab;
        if det.abs() < 1e-12 {
            break;
        }
        a -= (hbb * ga - hab * gb) / det;
        b -= (haa * gb - hab * ga) / det;
    }
    (a, b)
}

fn calibration_table(samples: &[(f64, bool)]) -> String {
    let mut bins = [(0usize, 0usize, 0.0f64); 10];
    let mut brier = 0.0;
    for &(w, y) in samples {
        let p = score::calibrated(w);
        let bin = ((p * 10.0) as usize).min(9);
        bins[bin].0 += 1;
        bins[bin].1 += usize::from(y);
        bins[bin].2 += p;
        brier += (p - f64::from(u8::from(y))).powi(2);
    }
    let mut out = String::from(
        "| confidence | candidates | mean confidence | share that were the person |\n|---|---|---|---|\n",
    );
    for (i, (n, hits, sum)) in bins.iter().enumerate() {
        if *n > 0 {
            let _ = writeln!(
                out,
                "| {:.1}–{:.1} | {n} | {:.3} | {:.3} |",
                i as f64 / 10.0,
                (i + 1) as f64 / 10.0,
                sum / *n as f64,
                *hits as f64 / *n as f64
            );
        }
    }
    let _ = writeln!(
        out,
        "\nBrier score {:.4} over {} candidates.",
        brier / samples.len().max(1) as f64,
        samples.len()
    );
    out
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let registered = read(&args.data.join("registered.jsonl"))?;
    let inquiries = read(&args.data.join("inquiries.jsonl"))?;
    let lists = read(&args.data.join("lists.jsonl"))?;
    let mut report = String::new();
    let _ = writeln!(
        report,
        "# Identity engine evaluation\n\nMachine: {} cores. Command: `make eval` \
         (`python3 scripts/gen-eval-set.py` then `cargo run --release -p homeward-bench --bin identity-eval`). \
         Set: {} registered people, {} inquiries, lists of {} + {} entries (`{}`). \
         A hit is a best candidate with confidence ≥ {}.",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        registered.len(),
        inquiries.len(),
        lists.iter().filter(|e| e.list == "request").count(),
        lists.iter().filter(|e| e.list == "offer").count(),
        args.data.display(),
        args.threshold,
    );

    // The engine.
    let started = Instant::now();
    let mut index = Index::new();
    index.extend(
        registered
            .iter()
            .map(|r| (number(&r.id), 1, 0, r.identity()))
            .collect(),
    );
    let build = started.elapsed();
    let options = SearchOptions {
        max_results: 10,
        ..SearchOptions::default()
    };
    let mut by_noise: BTreeMap<String, Tally> = BTreeMap::new();
    let mut overall = Tally::default();
    let mut samples: Vec<(usize, f64, bool)> = Vec::new();
    let mut latencies = Vec::with_capacity(inquiries.len());
    for (n, q) in inquiries.iter().enumerate() {
        let compiled = compile(&q.identity());
        let t = Instant::now();
        let hits = index.search(&compiled, &options);
        latencies.push(t.elapsed());
        let target = q.target.as_deref().map(number);
        let rank = target.and_then(|t| hits.iter().position(|h| h.id == t));
        let false_hit = hits
            .first()
            .is_some_and(|h| h.comparison.confidence >= args.threshold);
        record(&mut overall, &mut by_noise, q, rank, false_hit);
        if args.show_failures && target.is_none() && false_hit {
            eprintln!(
                "false hit {} {:?} -> {} {:.2} {:?}",
                q.id,
                q.noise,
                hits[0].id,
                hits[0].comparison.confidence,
                hits[0].comparison.explanation
            );
        }
        for h in &hits {
            samples.push((n, h.comparison.weight, Some(h.id) == target));
        }
    }
    latencies.sort();
    let _ = writeln!(
        report,
        "\n## Inquiries: the engine\n\nIndex of {} people built in {}; search p50 {}, p99 {} (one thread).\n\n\
         | all | probes | recall@1 | recall@10 | MRR | unregistered | false hits |\n|---|---|---|---|---|---|---|\n| all | {} |",
        index.len(),
        ms(build),
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        overall.row()
    );
    report.push_str(&tally_table(
        "By noise type (a probe counts under each of its noises)",
        &by_noise,
    ));

    // Calibration: fitted on even inquiries, checked on odd ones.
    let train: Vec<(f64, bool)> = samples
        .iter()
        .filter(|s| s.0 % 2 == 0)
        .map(|s| (s.1, s.2))
        .collect();
    let test: Vec<(f64, bool)> = samples
        .iter()
        .filter(|s| s.0 % 2 == 1)
        .map(|s| (s.1, s.2))
        .collect();
    let (slope, intercept) = fit(&train);
    let _ = writeln!(
        report,
        "\n## Calibration\n\nThe confidence is 1 / (1 + e^-(a·w + b)) of the total weight w. In use: a = {}, b = {}; \
         fitted on this run's even-numbered inquiries: a = {slope:.3}, b = {intercept:.3}. \
         On the odd-numbered inquiries' top-10 candidates (before the names-only cap):\n",
        score::CALIBRATION_SLOPE,
        score::CALIBRATION_INTERCEPT,
    );
    report.push_str(&calibration_table(&test));

    // List reconciliation: the other side's offer against our request.
    let request: HashMap<u128, &Record> = lists
        .iter()
        .filter(|e| e.list == "request")
        .filter_map(|e| Some((number(e.person.as_deref()?), e)))
        .collect();
    let offers: Vec<&Record> = lists.iter().filter(|e| e.list == "offer").collect();
    let best = SearchOptions {
        max_results: 1,
        min_confidence: args.threshold,
        ..SearchOptions::default()
    };
    let t = Instant::now();
    // The best candidate, and whether its fields contradict the entry (a suspected substitution).
    let predicted: Vec<Option<(u128, bool)>> = offers
        .iter()
        .map(|o| {
            index
                .search_identity(&o.identity(), &best)
                .first()
                .map(|h| (h.id, !h.comparison.conflicts.is_empty()))
        })
        .collect();
    let reconcile = t.elapsed();
    let (mut tp, mut fp, mut truth, mut subs, mut flagged, mut alarms) = (0, 0, 0, 0, 0, 0);
    for (offer, guess) in offers.iter().zip(&predicted) {
        let truly = offer
            .person
            .as_deref()
            .map(number)
            .filter(|p| request.contains_key(p) && offer.substitution_of.is_none());
        truth += usize::from(truly.is_some());
        let paired = guess.map(|g| g.0).filter(|g| request.contains_key(g));
        let suspected = guess.is_some_and(|g| g.1);
        match (paired, truly) {
            (Some(g), Some(t)) if g == t => {
                tp += 1;
                alarms += usize::from(suspected);
            }
            (Some(_), _) => fp += 1,
            (None, Some(t)) if args.show_failures => {
                let all = index.search_identity(&offer.identity(), &SearchOptions::default());
                let found = all.iter().find(|h| h.id == t);
                eprintln!(
                    "missed pair {} {:?}: {:?}",
                    offer.reference,
                    offer.noise,
                    found.map(|h| (h.comparison.confidence, &h.comparison.explanation))
                );
            }
            _ => {}
        }
        if let Some(imitated) = &offer.substitution_of {
            subs += 1;
            let imitated_person = lists
                .iter()
                .find(|e| e.list == "request" && &e.reference == imitated)
                .and_then(|e| e.person.as_deref())
                .map(number);
            if paired != imitated_person || paired.is_none() || suspected {
                flagged += 1;
            } else if args.show_failures {
                let hit = index.search_identity(&offer.identity(), &best);
                eprintln!(
                    "substitution {} paired with {imitated}: {:?}",
                    offer.reference,
                    hit.first().map(|h| &h.comparison.explanation)
                );
            }
        }
    }
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let recall = tp as f64 / truth.max(1) as f64;
    let _ = writeln!(
        report,
        "\n## List reconciliation\n\n{} offered entries matched against the registry and paired with our request \
         in {} ({} per entry): precision {precision:.3}, recall {recall:.3}, F1 {:.3}. \
         Substitutions flagged (left unpaired, or paired with contradicting fields): {flagged} of {subs}; \
         true pairs flagged with contradicting fields all the same: {alarms} of {tp}.",
        offers.len(),
        ms(reconcile),
        ms(reconcile / offers.len().max(1) as u32),
        2.0 * precision * recall / (precision + recall).max(1e-9),
    );

    // The same lists reconciled directly with each other, as the exchange service does.
    let request_entries: Vec<&Record> = lists.iter().filter(|e| e.list == "request").collect();
    let ours: Vec<Identity> = request_entries.iter().map(|e| e.identity()).collect();
    let theirs: Vec<Identity> = offers.iter().map(|e| e.identity()).collect();
    let t = Instant::now();
    let pairs = homeward_identity::reconcile(&ours, &theirs, args.threshold);
    let direct = t.elapsed();
    let (mut tp, mut fp, mut alarms) = (0, 0, 0);
    let mut paired_with: HashMap<usize, (usize, bool)> = HashMap::new();
    for p in &pairs {
        paired_with.insert(p.right, (p.left, !p.comparison.conflicts.is_empty()));
        let offer = offers[p.right];
        let genuine = offer.substitution_of.is_none()
            && offer.person.is_some()
            && offer.person == request_entries[p.left].person;
        if genuine {
            tp += 1;
            alarms += usize::from(!p.comparison.conflicts.is_empty());
        } else {
            fp += 1;
        }
    }
    let (mut subs, mut flagged) = (0, 0);
    for (r, offer) in offers.iter().enumerate() {
        if let Some(imitated) = &offer.substitution_of {
            subs += 1;
            match paired_with.get(&r) {
                Some((l, suspected))
                    if &request_entries[*l].reference == imitated && !suspected => {}
                _ => flagged += 1,
            }
        }
    }
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let recall = tp as f64 / truth.max(1) as f64;
    let _ = writeln!(
        report,
        "\nThe two lists reconciled with each other (`homeward_identity::reconcile`, one-to-one, best pairs first) \
         in {}: precision {precision:.3}, recall {recall:.3}, F1 {:.3}. Substitutions flagged: {flagged} of {subs}; \
         true pairs flagged with contradicting fields all the same: {alarms} of {tp}.",
        ms(direct),
        2.0 * precision * recall / (precision + recall).max(1e-9),
    );

    if !args.no_baseline {
        report.push_str(&baseline(&args, &registered, &inquiries).await?);
    }
    if args.speed_people > 0 {
        drop(index);
        report.push_str(&speed(args.speed_people, &registered, &inquiries, &offers));
    }
    print!("{report}");
    if let Some(path) = &args.report {
        std::fs::write(path, &report)?;
    }
    Ok(())
}

/// The same inquiries through `pg_trgm`: one row per name variant, `%` with the default
/// threshold (0.3) to find candidates, ranked by `similarity()`.
async fn baseline(
    args: &Args,
    registered: &[Record],
    inquiries: &[Record],
) -> Result<String, Box<dyn std::error::Error>> {
    use sqlx::postgres::PgPoolOptions;
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&args.database_url)
        .await?;
    let name = format!("hw_identity_eval_{}", std::process::id());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await?;
    let url = match args.database_url.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => return Err("database url needs a database name".into()),
    };
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect(&url)
        .await?;
    let result = async {
        sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute(&pool).await?;
        sqlx::query("CREATE TABLE names (person BIGINT NOT NULL, name TEXT NOT NULL)")
            .execute(&pool)
            .await?;
        let mut ids = Vec::new();
        let mut texts = Vec::new();
        for r in registered {
            for n in &r.names {
                ids.push(number(&r.id) as i64);
                texts.push(
                    [&n.family, &n.given, &n.patronymic]
                        .iter()
                        .filter(|s| !s.is_empty())
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(" "),
                );
            }
        }
        sqlx::query("INSERT INTO names SELECT * FROM UNNEST($1::bigint[], $2::text[])")
            .bind(&ids)
            .bind(&texts)
            .execute(&pool)
            .await?;
        sqlx::query("CREATE INDEX names_trgm ON names USING gin (name gin_trgm_ops)")
            .execute(&pool)
            .await?;
        let started = Instant::now();
        let results: Vec<(usize, Vec<(i64, f32)>)> = futures::stream::iter(inquiries.iter().enumerate())
            .map(|(i, q)| {
                let pool = pool.clone();
                let text = q.text();
                async move {
                    let rows: Vec<(i64, f32)> = sqlx::query_as(
                        "SELECT person, max(similarity(name, $1)) AS s FROM names \
                         WHERE name % $1 GROUP BY person ORDER BY s DESC, person LIMIT 10",
                    )
                    .bind(text)
                    .fetch_all(&pool)
                    .await?;
                    Ok::<_, sqlx::Error>((i, rows))
                }
            })
            .buffer_unordered(4)
            .try_collect()
            .await?;
        let elapsed = started.elapsed();
        let mut by_noise: BTreeMap<String, Tally> = BTreeMap::new();
        let mut overall = Tally::default();
        for (i, rows) in results {
            let q = &inquiries[i];
            let target = q.target.as_deref().map(|t| number(t) as i64);
            let rank = target.and_then(|t| rows.iter().position(|r| r.0 == t));
            let false_hit = !rows.is_empty();
            record(&mut overall, &mut by_noise, q, rank, false_hit);
        }
        let mut out = format!(
            "\n## Inquiries: the pg_trgm baseline\n\nSame inquiries, `similarity()` over each stored name variant \
             (\"family given patronymic\"), candidates by `%` (threshold 0.3), 4 connections: {} in all. \
             A false hit is any candidate returned for an unregistered person.\n\n\
             | all | probes | recall@1 | recall@10 | MRR | unregistered | false hits |\n|---|---|---|---|---|---|---|\n| all | {} |\n",
            ms(elapsed),
            overall.row()
        );
        out.push_str(&tally_table("Baseline by noise type", &by_noise));
        Ok::<_, Box<dyn std::error::Error>>(out)
    }
    .await;
    pool.close().await;
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&admin)
    .await;
    result
}

/// Speed at `people` registered people: the population recombines the set's surnames, given
/// names, patronymics and dates (so names keep their realistic frequencies), then the set's
/// inquiries are searched and the offer list reconciled.
fn speed(people: usize, registered: &[Record], inquiries: &[Record], offers: &[&Record]) -> String {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) as usize
    };
    let n = registered.len();
    let entries: Vec<(u128, i64, u32, Identity)> = (0..people)
        .map(|i| {
            let base = &registered[next() % n];
            let mut identity = base.identity();
            if let Some(name) = identity.names.first_mut() {
                let other = &registered[next() % n];
                if other.sex == base.sex
                    && let Some(o) = other.names.first()
                {
                    name.given = o.given.clone();
                }
                let surname = &registered[next() % n];
                if surname.sex == base.sex
                    && let Some(s) = surname.names.first()
                {
                    name.family = s.family.clone();
                }
            }
            identity.names.truncate(1);
            identity.birth_date = Some(BirthDate::ymd(
                1960 + (next() % 47) as i32,
                1 + (next() % 12) as u8,
                1 + (next() % 28) as u8,
            ));
            (1_000_000_000 + i as u128, 1, 0, identity)
        })
        .collect();
    let before = rss_bytes();
    let started = Instant::now();
    let mut index = Index::new();
    index.extend(entries);
    let build = started.elapsed();
    let after = rss_bytes();
    let compiled: Vec<Compiled> = inquiries.iter().map(|q| compile(&q.identity())).collect();
    let options = SearchOptions::default();
    let mut latencies: Vec<Duration> = compiled
        .iter()
        .map(|q| {
            let t = Instant::now();
            let hits = index.search(q, &options);
            std::hint::black_box(hits);
            t.elapsed()
        })
        .collect();
    latencies.sort();
    let best = SearchOptions {
        max_results: 1,
        min_confidence: 0.5,
        ..SearchOptions::default()
    };
    let t = Instant::now();
    for o in offers {
        std::hint::black_box(index.search_identity(&o.identity(), &best));
    }
    let reconcile = t.elapsed();
    format!(
        "\n## Speed at {} people\n\nThe population recombines the set's names and draws birth dates, \
         so name frequencies stay realistic. Index build {} (compiling on every core); resident memory \
         grew by {} MB while building (index estimate {} MB, {} distinct name keys). \
         {} searches (the inquiries), one thread: p50 {}, p99 {}, max {}. \
         Reconciling {} offered entries (best candidate each): {}.\n",
        index.len(),
        ms(build),
        after.saturating_sub(before) / (1 << 20),
        index.heap_bytes() / (1 << 20),
        index.vocabulary(),
        latencies.len(),
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies.last().copied().unwrap_or_default()),
        offers.len(),
        ms(reconcile),
    )
}
