; Fungible token.
;
; Storage (32-byte keys, 8-byte little-endian values):
;   0x00..00          the owner (32-byte value: the account that called init)
;   0x00..01          the total supply
;   <holder account>  the holder's balance
;
; Input (first byte = method, then fixed-size fields; any other length reverts 1):
;   0 init                           1 byte   owner := caller; reverts 6 if already set
;   1 mint(to[32], amount u64)      41 bytes  owner only (else 2); reverts 3 on overflow
;   2 transfer(to[32], amount u64)  41 bytes  from the caller; reverts 4 if short, 3 on overflow
;   3 balance_of(holder[32])        33 bytes  return data = balance (8 bytes)
;
; Frame layout: input at r10-128, caller at r10-160, key at r10-224, read buffer at r10-264.

entrypoint:
    mov64 r1, r10
    add64 r1, -128
    mov64 r2, 128
    syscall tos_get_input_data
    mov64 r6, r0
    jeq r6, 0, bad_input
    ldxb r7, [r10-128]
    jeq r7, 0, init
    jeq r7, 1, mint
    jeq r7, 2, transfer
    jeq r7, 3, balance_of
    ja bad_input

init:
    jne r6, 1, bad_input
    stdw [r10-224], 0
    stdw [r10-216], 0
    stdw [r10-208], 0
    stdw [r10-200], 0
    mov64 r1, r10
    add64 r1, -224
    mov64 r2, r10
    add64 r2, -264
    mov64 r3, 32
    syscall tos_storage_read
    jne r0, -1, already_initialized
    mov64 r1, r10
    add64 r1, -160
    syscall tos_get_caller
    mov64 r1, r10
    add64 r1, -224
    mov64 r2, r10
    add64 r2, -160
    mov64 r3, 32
    syscall tos_storage_write
    mov64 r0, 0
    exit

mint:
    jne r6, 41, bad_input
    stdw [r10-224], 0
    stdw [r10-216], 0
    stdw [r10-208], 0
    stdw [r10-200], 0
    mov64 r1, r10
    add64 r1, -224
    mov64 r2, r10
    add64 r2, -264
    mov64 r3, 32
    syscall tos_storage_read
    jne r0, 32, unauthorized
    mov64 r1, r10
    add64 r1, -160
    syscall tos_get_caller
    ldxdw r1, [r10-160]
    ldxdw r2, [r10-264]
    jne r1, r2, unauthorized
    ldxdw r1, [r10-152]
    ldxdw r2, [r10-256]
    jne r1, r2, unauthorized
    ldxdw r1, [r10-144]
    ldxdw r2, [r10-248]
    jne r1, r2, unauthorized
    ldxdw r1, [r10-136]
    ldxdw r2, [r10-240]
    jne r1, r2, unauthorized
    ldxdw r7, [r10-95]
    ; supply += amount first: every balance is at most the supply, so the balance
    ; cannot overflow when the supply does not
    stb [r10-193], 1
    mov64 r1, r10
    add64 r1, -224
    call function_read_u64
    mov64 r8, r0
    add64 r8, r7
    jlt r8, r0, overflow
    mov64 r1, r10
    add64 r1, -224
    mov64 r2, r8
    call function_write_u64
    mov64 r1, r10
    add64 r1, -127
    call function_read_u64
    mov64 r8, r0
    add64 r8, r7
    jlt r8, r0, overflow
    mov64 r1, r10
    add64 r1, -127
    mov64 r2, r8
    call function_write_u64
    mov64 r0, 0
    exit

transfer:
    jne r6, 41, bad_input
    mov64 r1, r10
    add64 r1, -160
    syscall tos_get_caller
    ldxdw r7, [r10-95]
    mov64 r1, r10
    add64 r1, -160
    call function_read_u64
    jlt r0, r7, insufficient
    mov64 r2, r0
    sub64 r2, r7
    mov64 r1, r10
    add64 r1, -160
    call function_write_u64
    mov64 r1, r10
    add64 r1, -127
    call function_read_u64
    mov64 r8, r0
    add64 r8, r7
    jlt r8, r0, overflow
    mov64 r1, r10
    add64 r1, -127
    mov64 r2, r8
    call function_write_u64
    mov64 r1, r10
    add64 r1, -128
    mov64 r2, 41
    syscall tos_log
    mov64 r0, 0
    exit

balance_of:
    jne r6, 33, bad_input
    mov64 r1, r10
    add64 r1, -127
    call function_read_u64
    stxdw [r10-272], r0
    mov64 r1, r10
    add64 r1, -272
    mov64 r2, 8
    syscall tos_set_return_data
    mov64 r0, 0
    exit

bad_input:
    mov64 r0, 1
    exit
unauthorized:
    mov64 r0, 2
    exit
overflow:
    mov64 r0, 3
    exit
insufficient:
    mov64 r0, 4
    exit
already_initialized:
    mov64 r0, 6
    exit

; r0 := the 8-byte value at key r1 (absent = 0).
function_read_u64:
    stdw [r10-8], 0
    mov64 r2, r10
    add64 r2, -8
    mov64 r3, 8
    syscall tos_storage_read
    ldxdw r0, [r10-8]
    exit

; Stores r2 as the 8-byte value at key r1.
function_write_u64:
    stxdw [r10-8], r2
    mov64 r2, r10
    add64 r2, -8
    mov64 r3, 8
    syscall tos_storage_write
    exit
