//! Crash consistency of the `blockstm` binary on RocksDB: a process killed with SIGKILL at
//! any moment leaves its data directory exactly at a block boundary, and a second run on
//! that directory continues the chain to the same final state as an uninterrupted run.
//!
//! The store claims this (see `storage_adapter::RocksStore`): a block is one `WriteBatch`,
//! which RocksDB applies whole or not at all, and the chain metadata lives in the same
//! batch as the state it describes. This test checks it end to end, through the binary
//! and a real process death, rather than trusting the claim.
//!
//! Every expectation comes from an in-process sequential replay of the same seeded
//! workload on a `MemoryStore`: the chain state, every account's nonce and TOS balance,
//! and the executed marks after each of the run's blocks. A killed directory must match
//! the replay at its topoheight in all of these; a partially written block would not.
//!
//! Kill times are seeded (ChaCha8) and tied to the child's own progress, read from its
//! `tracing` output: each trial picks the block it wants to interrupt, waits until the
//! block before it is reported applied, then sleeps a random fraction of a measured block
//! time. Kills therefore land while blocks are being executed and committed, whatever the
//! machine's load, instead of mostly before the first block or after the last.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use executor::workload::{Workload, WorkloadConfig, WorkloadKind};
use executor::{execute_sequential, Block};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use storage_adapter::{
    Asset, BlockStore, ChainState, Hash, MemoryStore, PublicKey, RocksStore, StateKey, StateValue,
    StateView,
};

/// Blocks in a full run.
const BLOCKS: u64 = 40;
/// The chains the test kills: p2p transfers over 200 accounts, sized so that a full run
/// takes about a second in release, and a contract chain (`mixed`: native transfers,
/// token transfers and swaps) whose contracts genesis deploys.
#[derive(Clone, Copy, Debug)]
struct Spec {
    kind: WorkloadKind,
    accounts: usize,
    block_size: usize,
    trials: usize,
}

const P2P: Spec = Spec {
    kind: WorkloadKind::P2p,
    accounts: 200,
    block_size: 4000,
    trials: 24,
};

const MIXED: Spec = Spec {
    kind: WorkloadKind::Mixed,
    accounts: 200,
    block_size: 1000,
    trials: 10,
};
/// The workload seed (the binary's default `--seed`, passed explicitly all the same).
const WORKLOAD_SEED: u64 = 42;
/// The seed of the kill schedule.
const KILL_SEED: u64 = 0x6b69_6c6c;
/// How long to wait for any one line of progress before declaring the child stuck.
const PROGRESS_TIMEOUT: Duration = Duration::from_secs(60);

/// What a sequential replay of the workload gives after each topoheight `0..=BLOCKS`.
struct Expected {
    /// The blocks, index `t - 1` for topoheight `t`.
    blocks: Vec<Block>,
    /// The chain state at each topoheight (index 0 is genesis).
    chains: Vec<ChainState>,
    /// Every account's nonce and TOS balance at each topoheight.
    states: Vec<AccountState>,
    accounts: Vec<PublicKey>,
}

type AccountState = Vec<(Option<StateValue>, Option<StateValue>)>;

fn workload(spec: Spec) -> Workload {
    Workload::new(WorkloadConfig {
        failure_rate: 0.0,
        ..WorkloadConfig::new(spec.kind, spec.accounts, spec.block_size, WORKLOAD_SEED)
    })
    .expect("the workload configuration is valid")
}

/// Replays the binary's chain in-process: the same genesis (`Workload::genesis` of the
/// workload's allocations) and the same blocks (`next_block(t)` for `t = 1, 2, …`) that
/// `blockstm run` builds, executed by the sequential oracle.
fn replay(spec: Spec) -> Expected {
    let mut workload = workload(spec);
    let accounts = workload.accounts().to_vec();
    let store = MemoryStore::new();
    let genesis = workload
        .genesis()
        .expect("the genesis allocations are valid");
    store
        .commit(&genesis)
        .expect("genesis commits on an empty store");
    let mut expected = Expected {
        blocks: Vec::new(),
        chains: vec![store.chain_state().expect("memory chain state")],
        states: vec![account_state(&store, &accounts)],
        accounts,
    };
    for topoheight in 1..=BLOCKS {
        let block = workload.next_block(topoheight);
        let output = {
            let snapshot = store.snapshot().expect("memory snapshot");
            execute_sequential(&block, &snapshot).expect("a generated block is valid")
        };
        store
            .commit(&output.commit)
            .expect("the oracle's commit applies");
        expected
            .chains
            .push(store.chain_state().expect("memory chain state"));
        expected
            .states
            .push(account_state(&store, &expected.accounts));
        expected.blocks.push(block);
    }
    expected
}

fn account_state<S: BlockStore>(store: &S, accounts: &[PublicKey]) -> AccountState {
    let snapshot = store.snapshot().expect("snapshot");
    accounts
        .iter()
        .map(|account| {
            (
                snapshot
                    .get(&StateKey::Nonce(*account))
                    .expect("read a nonce"),
                snapshot
                    .get(&StateKey::Balance(*account, Asset::TOS))
                    .expect("read a balance"),
            )
        })
        .collect()
}

/// `blockstm run` on `dir` applying `blocks` more blocks of the test's workload.
fn blockstm(spec: Spec, dir: &Path, blocks: u64) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_blockstm"));
    command
        .args(["run", "--executor", "block-stm", "--threads", "2"])
        .args(["--workload", spec.kind.name()])
        .args(["--accounts", &spec.accounts.to_string()])
        .args(["--block-size", &spec.block_size.to_string()])
        .args(["--seed", &WORKLOAD_SEED.to_string()])
        .args(["--blocks", &blocks.to_string()])
        .arg("--data-dir")
        .arg(dir)
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1");
    // The executor configuration also reads the environment; keep the run as specified.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("TOS_EXECUTOR_") {
            command.env_remove(name);
        }
    }
    command
}

/// A line of progress from the child: the topoheight it reports committed (0 for
/// genesis), and when the test read it.
type Progress = (u64, Instant);

/// A `blockstm run` whose stderr is parsed for progress on a thread of its own.
struct Traced {
    child: Child,
    progress: Receiver<Progress>,
    reader: JoinHandle<()>,
    started: Instant,
}

impl Traced {
    /// Starts `blockstm run` on `dir` for `blocks` blocks, logging each applied block.
    fn spawn(spec: Spec, dir: &Path, blocks: u64) -> Self {
        let started = Instant::now();
        let mut child = blockstm(spec, dir, blocks)
            // `genesis applied` is info, `block applied` debug, both in `executor::node`.
            .env("RUST_LOG", "warn,executor::node=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start blockstm run");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (sender, progress) = mpsc::channel();
        let reader = thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(topoheight) = parse_progress(&line) {
                    // The receiver may be gone once the trial has what it waited for.
                    let _ = sender.send((topoheight, Instant::now()));
                }
            }
        });
        Self {
            child,
            progress,
            reader,
            started,
        }
    }

    /// Waits until the child reports topoheight `at_least` committed; returns the highest
    /// topoheight seen, which is lower only if the child exited first.
    fn wait_for(&self, at_least: u64, seen: &mut Option<u64>) {
        while seen.is_none_or(|seen| seen < at_least) {
            match self.progress.recv_timeout(PROGRESS_TIMEOUT) {
                Ok((topoheight, _)) => *seen = Some(topoheight),
                Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("blockstm run reported no progress for {PROGRESS_TIMEOUT:?}")
                }
            }
        }
    }

    /// Waits for the child to exit; returns every progress line and its stdout.
    fn finish(mut self) -> (Vec<Progress>, std::process::ExitStatus, String) {
        let status = self.child.wait().expect("wait for blockstm run");
        self.reader
            .join()
            .expect("the stderr reader does not panic");
        let mut stdout = String::new();
        if let Some(mut pipe) = self.child.stdout.take() {
            pipe.read_to_string(&mut stdout)
                .expect("read blockstm's stdout");
        }
        (self.progress.try_iter().collect(), status, stdout)
    }
}

/// The topoheight a `tracing` line of the node reports committed, if it reports one:
/// `genesis applied` is topoheight 0, `block applied` carries its span's `topoheight=N`.
fn parse_progress(line: &str) -> Option<u64> {
    let line = strip_ansi(line);
    if line.contains("genesis applied") {
        return Some(0);
    }
    if !line.contains("block applied") {
        return None;
    }
    let digits: String = line
        .split_once("topoheight=")?
        .1
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// `line` without ANSI escape sequences, in case the subscriber colours its output.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC '[' parameters, ended by a letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The hex root on the `state root: <hex>` line that ends `blockstm run`'s stdout.
fn printed_root(stdout: &str) -> &str {
    stdout
        .lines()
        .last()
        .and_then(|line| line.strip_prefix("state root: "))
        .unwrap_or_else(|| panic!("stdout does not end with `state root: <hex>`:\n{stdout}"))
}

/// Reopens the directory and checks that it holds exactly the replay's state at its
/// topoheight: chain state, every account's nonce and TOS balance, and the executed marks
/// of every block's transactions (present up to that topoheight, absent after). Returns
/// the topoheight.
fn check_block_boundary(dir: &Path, expected: &Expected, context: &str) -> u64 {
    let store = RocksStore::open(dir).expect("a killed store reopens");
    let chain = store.chain_state().expect("read the chain state");
    let topoheight = chain
        .topoheight
        .unwrap_or_else(|| panic!("{context}: genesis is missing after it was reported"));
    assert!(
        topoheight <= BLOCKS,
        "{context}: topoheight {topoheight} is beyond the {BLOCKS} blocks run"
    );
    let index = usize::try_from(topoheight).expect("a topoheight of at most 40 fits");
    assert_eq!(
        chain, expected.chains[index],
        "{context}: the chain state is not the replay's at topoheight {topoheight}"
    );
    assert!(
        account_state(&store, &expected.accounts) == expected.states[index],
        "{context}: the metadata says topoheight {topoheight} but the account state differs"
    );
    let snapshot = store.snapshot().expect("snapshot");
    for (block_index, block) in expected.blocks.iter().enumerate() {
        let committed = block_index < index;
        for tx in block.transactions() {
            assert_eq!(
                snapshot.is_executed(tx.hash()).expect("read an executed mark"),
                committed,
                "{context}: at topoheight {topoheight}, a transaction of block {} is {}marked executed",
                block_index + 1,
                if committed { "not " } else { "" }
            );
        }
    }
    topoheight
}

/// Runs `blockstm run` to completion; returns its stdout.
fn run_to_completion(spec: Spec, dir: &Path, blocks: u64) -> String {
    let Output {
        status,
        stdout,
        stderr,
    } = blockstm(spec, dir, blocks)
        .stdin(Stdio::null())
        .output()
        .expect("start blockstm run");
    let stdout = String::from_utf8(stdout).expect("stdout is UTF-8");
    assert!(
        status.success(),
        "blockstm run --blocks {blocks} failed ({status}):\n{}",
        String::from_utf8_lossy(&stderr)
    );
    stdout
}

/// SIGKILLs `blockstm run` at seeded moments spread over its blocks; after each kill the
/// directory must be exactly at a block boundary the replay knows (no torn block, no
/// block lost that the process reported committed), and continuing it with the missing
/// blocks must reach the uninterrupted run's final root. At least half the kills must
/// land strictly between genesis and the last block, so the test keeps testing crashes
/// mid-chain rather than before or after the work.
#[test]
fn killed_runs_stop_at_a_block_boundary_and_continue_to_the_same_root() {
    kill_and_continue(P2P);
}

/// The same on a chain of contract calls: their storage, balances and modules are in the
/// state root the boundary check compares.
#[test]
fn killed_contract_runs_stop_at_a_block_boundary_and_continue_to_the_same_root() {
    kill_and_continue(MIXED);
}

fn kill_and_continue(spec: Spec) {
    let (block_size, trials) = (spec.block_size, spec.trials);
    let expected = replay(spec);
    let final_root: Hash = expected.chains[usize::try_from(BLOCKS).expect("40 fits")].state_root;

    // An uninterrupted run: its root must be the replay's, and it times a block.
    let calibration_dir = tempfile::tempdir().expect("a temporary directory");
    let calibration = Traced::spawn(spec, calibration_dir.path(), BLOCKS);
    let started = calibration.started;
    let (progress, status, stdout) = calibration.finish();
    let elapsed = started.elapsed();
    assert!(status.success(), "the uninterrupted run failed ({status})");
    assert_eq!(printed_root(&stdout), final_root.to_string());
    let seen: Vec<u64> = progress.iter().map(|(topoheight, _)| *topoheight).collect();
    assert_eq!(
        seen,
        (0..=BLOCKS).collect::<Vec<_>>(),
        "the child's progress lines are parsed (genesis, then every block in order)"
    );
    assert_eq!(
        check_block_boundary(calibration_dir.path(), &expected, "uninterrupted run"),
        BLOCKS
    );
    let blocks_time = progress[progress.len() - 1].1 - progress[0].1;
    let block_time = blocks_time / u32::try_from(BLOCKS).expect("40 fits");
    eprintln!(
        "uninterrupted run: {elapsed:.2?} in all, {blocks_time:.2?} for {BLOCKS} blocks \
         of {block_size} transactions ({block_time:.2?} a block)"
    );

    let mut rng = ChaCha8Rng::seed_from_u64(KILL_SEED);
    let (mut at_genesis, mut mid_run, mut at_end) = (0, 0, 0);
    // Kills that stopped the chain just before the targeted block (it was executing or
    // committing when the signal came), and runs that finished before the kill.
    let (mut in_target, mut finished) = (0, 0);
    let mut topoheights = Vec::with_capacity(trials);
    for trial in 0..trials {
        // Interrupt block `target`: wait until its parent is committed, then let it run
        // for a random part of a block's time (under load it may get further).
        let target = rng.gen_range(1..=BLOCKS);
        let delay = block_time.mul_f64(rng.gen_range(0.0..1.0));
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut run = Traced::spawn(spec, dir.path(), BLOCKS);
        let mut reported = None;
        run.wait_for(target - 1, &mut reported);
        thread::sleep(delay);
        let exited = run.child.try_wait().expect("poll blockstm run").is_some();
        if exited {
            finished += 1;
        } else {
            run.child.kill().expect("SIGKILL blockstm run");
        }
        let (progress, status, _) = run.finish();
        assert!(
            !exited || status.success(),
            "trial {trial}: blockstm run failed on its own ({status}) before the kill"
        );
        let reported = progress
            .iter()
            .map(|(topoheight, _)| *topoheight)
            .chain(reported)
            .max();
        let context = format!(
            "trial {trial} (kill while block {target} runs, {delay:.2?} after its parent; \
             exit {status}, last reported topoheight {reported:?})"
        );

        let topoheight = check_block_boundary(dir.path(), &expected, &context);
        assert!(
            reported.is_some_and(|reported| topoheight >= reported),
            "{context}: the store is at topoheight {topoheight}, behind what the process \
             reported committed before it was killed"
        );
        match topoheight {
            0 => at_genesis += 1,
            BLOCKS => at_end += 1,
            _ => mid_run += 1,
        }
        if topoheight + 1 == target {
            in_target += 1;
        }
        topoheights.push(topoheight);

        // Continue the chain with the blocks the kill cut off.
        let stdout = run_to_completion(spec, dir.path(), BLOCKS - topoheight);
        assert_eq!(
            printed_root(&stdout),
            final_root.to_string(),
            "{context}: continuing from topoheight {topoheight} printed another final root"
        );
        assert_eq!(
            check_block_boundary(dir.path(), &expected, &format!("{context}, continued")),
            BLOCKS
        );
    }

    eprintln!(
        "kill points over {trials} trials: {at_genesis} at genesis, {mid_run} mid-run, \
         {at_end} after the last block ({finished} exited before the kill); {in_target} \
         stopped just before the block they targeted; topoheights {topoheights:?}"
    );
    assert!(
        mid_run * 2 >= trials,
        "only {mid_run} of {trials} kills landed mid-run; the schedule no longer tests \
         crashes during the chain"
    );
}
