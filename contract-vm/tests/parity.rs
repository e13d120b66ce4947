//! The interpreter and the JIT must end every call identically: outcome, gas, instruction
//! count and the state left in the host. Checked over random calls of every bundled
//! contract and over random short programs that verify.

mod common;

use common::{account, Deployed, GAS};
use contract_vm::contracts::{self, amm, ticket, token, vote};
use contract_vm::{
    Asset, CallContext, ContractId, ContractVm, MemoryHost, Module, StorageKey, StorageValue,
    VmKind,
};
use proptest::prelude::*;

/// One random call: who, what input, how much gas, and a deposit made before it.
#[derive(Clone, Debug)]
struct Call {
    caller: u64,
    input: Vec<u8>,
    max_gas: u64,
    deposit: Option<(bool, u64)>,
}

fn holder() -> impl Strategy<Value = contract_vm::PublicKey> {
    (0u64..4).prop_map(account)
}

fn amount() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..2_000, Just(u64::MAX), any::<u64>()]
}

fn input_for(contract: usize) -> BoxedStrategy<Vec<u8>> {
    let garbage = proptest::collection::vec(any::<u8>(), 0..80).boxed();
    let structured = match contract {
        0 => prop_oneof![
            Just(token::init()),
            (holder(), amount()).prop_map(|(to, amount)| token::mint(&to, amount)),
            (holder(), amount()).prop_map(|(to, amount)| token::transfer(&to, amount)),
            holder().prop_map(|holder| token::balance_of(&holder)),
        ]
        .boxed(),
        1 => prop_oneof![
            (0u8..3, amount()).prop_map(|(direction, min_out)| amm::swap(direction, min_out)),
            Just(amm::reserves()),
            Just(amm::init(&Asset::from_index(1), &Asset::from_index(2))),
        ]
        .boxed(),
        2 => prop_oneof![Just(ticket::mint()), (0u64..6).prop_map(ticket::owner_of)].boxed(),
        _ => prop_oneof![
            (0u8..18).prop_map(vote::vote),
            (0u8..18).prop_map(vote::count),
            Just(vote::unvote()),
        ]
        .boxed(),
    };
    prop_oneof![4 => structured, 1 => garbage].boxed()
}

fn calls_for(contract: usize) -> impl Strategy<Value = Vec<Call>> {
    let call = (
        0u64..4,
        input_for(contract),
        prop_oneof![3 => Just(GAS), 1 => 0u64..4_000],
        proptest::option::of((any::<bool>(), 0u64..5_000)),
    )
        .prop_map(|(caller, input, max_gas, deposit)| Call {
            caller,
            input,
            max_gas,
            deposit,
        });
    proptest::collection::vec(call, 1..16)
}

/// Runs the same calls on both VM kinds and compares everything observable.
fn assert_same(source: &str, setup: &[Vec<u8>], calls: &[Call]) -> Result<(), TestCaseError> {
    let mut interpreter = Deployed::new(source, VmKind::Interpreter);
    let mut jit = Deployed::new(source, VmKind::Jit);
    let (a, b) = (Asset::from_index(1), Asset::from_index(2));
    for deployed in [&mut interpreter, &mut jit] {
        deployed
            .host
            .set_contract_balance(deployed.contract, a, 10_000);
        deployed
            .host
            .set_contract_balance(deployed.contract, b, 20_000);
        for input in setup {
            deployed.call(&account(0), input);
        }
    }
    for call in calls {
        let mut results = Vec::new();
        for deployed in [&mut interpreter, &mut jit] {
            if let Some((to_b, amount)) = call.deposit {
                let asset = if to_b { b } else { a };
                let held = deployed.host.contract_balance(&deployed.contract, &asset);
                deployed.host.set_contract_balance(
                    deployed.contract,
                    asset,
                    held.saturating_add(amount),
                );
            }
            let outcome = deployed.call_with_gas(&account(call.caller), &call.input, call.max_gas);
            results.push((outcome, deployed.vm.last_meter()));
        }
        prop_assert_eq!(&results[0], &results[1], "call {:?}", call);
    }
    prop_assert_eq!(&interpreter.host, &jit.host);
    Ok(())
}

/// One instruction (or a short fixed sequence) of a random program.
#[derive(Clone, Debug)]
enum Piece {
    MovImm(u8, i32),
    Alu(&'static str, bool, u8, Result<u8, i32>),
    Load(&'static str, u8, u8, i16),
    StoreStack(&'static str, u8, u16),
    Jump(&'static str, u8, i32, usize),
    Syscall(usize, [Result<u16, i32>; 3]),
    Lddw(u8, u64),
}

const ALU: [&str; 11] = [
    "add", "sub", "mul", "div", "mod", "or", "and", "xor", "lsh", "rsh", "arsh",
];
const SIZES: [&str; 4] = ["b", "h", "w", "dw"];
const JUMPS: [&str; 8] = ["jeq", "jne", "jgt", "jge", "jlt", "jsgt", "jslt", "jset"];
const SYSCALLS: [&str; 11] = [
    "tos_storage_read",
    "tos_storage_write",
    "tos_storage_delete",
    "tos_get_input_data",
    "tos_set_return_data",
    "tos_get_caller",
    "tos_get_contract_hash",
    "tos_get_balance",
    "tos_transfer",
    "tos_log",
    "tos_blake3",
];

fn piece() -> impl Strategy<Value = Piece> {
    let reg = 0u8..10;
    let src = 0u8..11;
    // A syscall argument: a stack pointer (r10 - n) or a raw value.
    let arg = prop_oneof![(0u16..4096).prop_map(Ok), any::<i32>().prop_map(Err)];
    prop_oneof![
        3 => (reg.clone(), any::<i32>()).prop_map(|(r, imm)| Piece::MovImm(r, imm)),
        3 => (0..ALU.len(), any::<bool>(), reg.clone(), prop_oneof![src.clone().prop_map(Ok), any::<i32>().prop_map(Err)])
            .prop_map(|(op, wide, r, operand)| Piece::Alu(ALU[op], wide, r, operand)),
        // Mostly from the stack, sometimes from anywhere.
        3 => (0..SIZES.len(), reg.clone(), -4096i16..-1)
            .prop_map(|(size, r, offset)| Piece::Load(SIZES[size], r, 10, offset)),
        1 => (0..SIZES.len(), reg.clone(), src.clone(), any::<i16>())
            .prop_map(|(size, r, base, offset)| Piece::Load(SIZES[size], r, base, offset)),
        3 => (0..SIZES.len(), src.clone(), 1u16..4096)
            .prop_map(|(size, r, offset)| Piece::StoreStack(SIZES[size], r, offset)),
        3 => (0..JUMPS.len(), reg.clone(), -4i32..300, 1usize..6)
            .prop_map(|(op, r, imm, skip)| Piece::Jump(JUMPS[op], r, imm, skip)),
        2 => (0..SYSCALLS.len(), [arg.clone(), arg.clone(), arg])
            .prop_map(|(index, args)| Piece::Syscall(index, args)),
        1 => (reg, any::<u64>()).prop_map(|(r, value)| Piece::Lddw(r, value)),
    ]
}

/// Renders pieces as assembler text; jumps only go forward, so every program ends.
fn render(pieces: &[Piece]) -> String {
    let mut text = String::new();
    let count = pieces.len();
    for (index, piece) in pieces.iter().enumerate() {
        text.push_str(&format!("l{index}:\n"));
        match piece {
            Piece::MovImm(r, imm) => text.push_str(&format!("mov64 r{r}, {imm}\n")),
            Piece::Alu(op, wide, r, operand) => {
                let width = if *wide { "64" } else { "32" };
                let bits = if *wide { 64 } else { 32 };
                let operand = match operand {
                    Ok(src) => format!("r{src}"),
                    // The verifier rejects constant shifts past the width and constant
                    // division by zero; keep those constants legal.
                    Err(imm) if matches!(*op, "lsh" | "rsh" | "arsh") => {
                        format!("{}", imm.rem_euclid(bits))
                    }
                    Err(0) if matches!(*op, "div" | "mod") => "3".to_owned(),
                    Err(imm) => format!("{imm}"),
                };
                text.push_str(&format!("{op}{width} r{r}, {operand}\n"));
            }
            Piece::Load(size, r, base, offset) => {
                text.push_str(&format!("ldx{size} r{r}, [r{base}{offset:+}]\n"))
            }
            Piece::StoreStack(size, r, offset) => {
                text.push_str(&format!("stx{size} [r10-{offset}], r{r}\n"))
            }
            Piece::Jump(op, r, imm, skip) => {
                let target = (index + skip).min(count);
                text.push_str(&format!("{op} r{r}, {imm}, l{target}\n"));
            }
            Piece::Syscall(which, args) => {
                for (position, arg) in args.iter().enumerate() {
                    let register = position + 1;
                    match arg {
                        Ok(offset) => text.push_str(&format!(
                            "mov64 r{register}, r10\nadd64 r{register}, -{offset}\n"
                        )),
                        Err(value) => text.push_str(&format!("mov64 r{register}, {value}\n")),
                    }
                }
                text.push_str(&format!("syscall {}\n", SYSCALLS[*which]));
            }
            Piece::Lddw(r, value) => text.push_str(&format!("lddw r{r}, {value:#x}\n")),
        }
    }
    text.push_str(&format!("l{count}:\nexit\n"));
    text
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn token_calls_agree(calls in calls_for(0)) {
        let setup = [token::init(), token::mint(&account(1), 5_000), token::mint(&account(2), 7)];
        assert_same(contracts::TOKEN, &setup, &calls)?;
    }

    #[test]
    fn amm_calls_agree(calls in calls_for(1)) {
        let setup = [amm::init(&Asset::from_index(1), &Asset::from_index(2))];
        assert_same(contracts::AMM, &setup, &calls)?;
    }

    #[test]
    fn ticket_calls_agree(calls in calls_for(2)) {
        assert_same(contracts::TICKET, &[ticket::mint()], &calls)?;
    }

    #[test]
    fn vote_calls_agree(calls in calls_for(3)) {
        assert_same(contracts::VOTE, &[vote::vote(1)], &calls)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_programs_agree(
        pieces in proptest::collection::vec(piece(), 1..24),
        input in proptest::collection::vec(any::<u8>(), 0..48),
        max_gas in prop_oneof![Just(GAS), 0u64..3_000],
    ) {
        let source = render(&pieces);
        // Programs the verifier rejects never run; the rest must agree.
        let Ok(module) = Module::from_source(&source, VmKind::Jit) else {
            return Ok(());
        };
        let mut host = MemoryHost::new();
        let contract = ContractId([3; 32]);
        let mut key = [0u8; 32];
        key[0] = 1;
        host.storage_write_committed(contract, StorageKey(key), StorageValue::from(42));
        host.set_contract_balance(contract, Asset::TOS, 1_000);
        let mut results = Vec::new();
        for kind in [VmKind::Interpreter, VmKind::Jit] {
            let mut vm = ContractVm::new(kind).expect("available");
            let mut host = host.clone();
            let outcome = vm.invoke(
                &module,
                &mut host,
                &CallContext { caller: account(1), contract, input: &input, max_gas },
            );
            results.push((outcome, vm.last_meter(), host));
        }
        prop_assert_eq!(&results[0], &results[1], "program:\n{}", source);
    }
}
