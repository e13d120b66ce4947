//! Times one token transfer and one AMM swap on each VM kind (the issue's "cost of one
//! call"), on the in-memory host. Prints µs per call; asserts nothing about time.
//!
//! `cargo run --release -p contract-vm --example call_cost [iterations]`

// An example's job is to print its measurements.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use contract_vm::contracts::{self, amm, token};
use contract_vm::{
    Asset, CallContext, CallOutcome, ContractId, ContractVm, MemoryHost, Module, PublicKey, VmKind,
};

const GAS: u64 = 1_000_000;

fn call(
    vm: &mut ContractVm,
    module: &Module,
    host: &mut MemoryHost,
    caller: PublicKey,
    input: &[u8],
) -> CallOutcome {
    let context = CallContext {
        caller,
        contract: ContractId([1; 32]),
        input,
        max_gas: GAS,
    };
    match vm.invoke(module, host, &context) {
        Ok(outcome) => {
            if outcome.is_success() {
                host.commit();
            } else {
                host.discard();
            }
            outcome
        }
        Err(abort) => panic!("the memory host does not abort: {abort}"),
    }
}

fn time_token(kind: VmKind, iterations: u32) -> Result<(f64, u64), Box<dyn std::error::Error>> {
    let module = Module::from_source(contracts::TOKEN, kind)?;
    let mut vm = ContractVm::new(kind)?;
    let mut host = MemoryHost::new();
    let (owner, alice, bob) = (
        PublicKey::from_index(0),
        PublicKey::from_index(1),
        PublicKey::from_index(2),
    );
    call(&mut vm, &module, &mut host, owner, &token::init());
    call(
        &mut vm,
        &module,
        &mut host,
        owner,
        &token::mint(&alice, 1 << 40),
    );
    let there = token::transfer(&bob, 1);
    let back = token::transfer(&alice, 1);
    let start = Instant::now();
    let mut gas = 0;
    for round in 0..iterations {
        let (caller, input) = if round % 2 == 0 {
            (alice, &there)
        } else {
            (bob, &back)
        };
        let outcome = call(&mut vm, &module, &mut host, caller, input);
        assert!(outcome.is_success());
        gas = outcome.gas_used();
    }
    Ok((
        start.elapsed().as_secs_f64() * 1e6 / f64::from(iterations),
        gas,
    ))
}

fn time_swap(kind: VmKind, iterations: u32) -> Result<(f64, u64), Box<dyn std::error::Error>> {
    let module = Module::from_source(contracts::AMM, kind)?;
    let mut vm = ContractVm::new(kind)?;
    let mut host = MemoryHost::new();
    let pool = ContractId([1; 32]);
    let (a, b) = (Asset::from_index(1), Asset::from_index(2));
    host.set_contract_balance(pool, a, 1 << 40);
    host.set_contract_balance(pool, b, 1 << 40);
    let trader = PublicKey::from_index(7);
    call(&mut vm, &module, &mut host, trader, &amm::init(&a, &b));
    let swap = amm::swap(amm::A_TO_B, 1);
    let start = Instant::now();
    let mut gas = 0;
    for _ in 0..iterations {
        // The executor moves the deposit in before the call.
        let held = host.contract_balance(&pool, &a);
        host.set_contract_balance(pool, a, held + 1_000);
        let outcome = call(&mut vm, &module, &mut host, trader, &swap);
        assert!(outcome.is_success(), "{outcome:?}");
        gas = outcome.gas_used();
    }
    Ok((
        start.elapsed().as_secs_f64() * 1e6 / f64::from(iterations),
        gas,
    ))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let iterations = std::env::args()
        .nth(1)
        .map(|arg| arg.parse())
        .transpose()?
        .unwrap_or(100_000u32);
    println!("{iterations} calls each, in-memory host");
    for kind in [VmKind::Interpreter, VmKind::Jit] {
        if !kind.is_available() {
            println!("{kind}: not available on this target");
            continue;
        }
        let (transfer_us, transfer_gas) = time_token(kind, iterations)?;
        let (swap_us, swap_gas) = time_swap(kind, iterations)?;
        println!(
            "{kind:>11}: token transfer {transfer_us:.2} µs ({transfer_gas} gas), swap {swap_us:.2} µs ({swap_gas} gas)"
        );
    }
    Ok(())
}
