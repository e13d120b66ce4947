; Vote counter: one vote per account over 16 options, which the voter may take back.
;
; Storage (32-byte keys):
;   blake3(voter account)  the option voted for (1 byte)
;   [2][option][0..]       the option's count (u64, little endian; absent = 0)
;
; Input (first byte = method, then fixed-size fields; any other length reverts 1):
;   0 vote(option u8)   2 bytes  option < 16 (else 1); reverts 9 if the caller already
;                                voted; count += 1 (3 on overflow)
;   1 count(option u8)  2 bytes  return data = the count (8 bytes)
;   2 unvote            1 byte   deletes the caller's vote and decrements its count;
;                                reverts 7 if the caller has not voted
;
; Frame layout: input at r10-128, caller at r10-160, count key at r10-192, voter key at
; r10-224, read buffer at r10-264.

entrypoint:
    mov64 r1, r10
    add64 r1, -128
    mov64 r2, 128
    syscall tos_get_input_data
    mov64 r6, r0
    jeq r6, 0, bad_input
    ldxb r7, [r10-128]
    jeq r7, 0, vote
    jeq r7, 1, count
    jeq r7, 2, unvote
    ja bad_input

vote:
    jne r6, 2, bad_input
    ldxb r8, [r10-127]
    jge r8, 16, bad_input
    mov64 r1, r10
    add64 r1, -160
    syscall tos_get_caller
    mov64 r1, r10
    add64 r1, -160
    mov64 r2, 32
    mov64 r3, r10
    add64 r3, -224
    syscall tos_blake3
    mov64 r1, r10
    add64 r1, -224
    mov64 r2, r10
    add64 r2, -264
    mov64 r3, 1
    syscall tos_storage_read
    jne r0, -1, already_voted
    mov64 r1, r10
    add64 r1, -224
    mov64 r2, r10
    add64 r2, -127
    mov64 r3, 1
    syscall tos_storage_write
    stdw [r10-192], 0
    stdw [r10-184], 0
    stdw [r10-176], 0
    stdw [r10-168], 0
    stb [r10-192], 2
    stxb [r10-191], r8
    mov64 r1, r10
    add64 r1, -192
    call function_read_u64
    mov64 r2, r0
    add64 r2, 1
    jeq r2, 0, overflow
    mov64 r1, r10
    add64 r1, -192
    call function_write_u64
    mov64 r0, 0
    exit

count:
    jne r6, 2, bad_input
    ldxb r8, [r10-127]
    jge r8, 16, bad_input
    stdw [r10-192], 0
    stdw [r10-184], 0
    stdw [r10-176], 0
    stdw [r10-168], 0
    stb [r10-192], 2
    stxb [r10-191], r8
    mov64 r1, r10
    add64 r1, -192
    call function_read_u64
    stxdw [r10-272], r0
    mov64 r1, r10
    add64 r1, -272
    mov64 r2, 8
    syscall tos_set_return_data
    mov64 r0, 0
    exit

unvote:
    jne r6, 1, bad_input
    mov64 r1, r10
    add64 r1, -160
    syscall tos_get_caller
    mov64 r1, r10
    add64 r1, -160
    mov64 r2, 32
    mov64 r3, r10
    add64 r3, -224
    syscall tos_blake3
    stdw [r10-264], 0
    mov64 r1, r10
    add64 r1, -224
    mov64 r2, r10
    add64 r2, -264
    mov64 r3, 1
    syscall tos_storage_read
    jne r0, 1, not_found
    ldxb r8, [r10-264]
    mov64 r1, r10
    add64 r1, -224
    syscall tos_storage_delete
    stdw [r10-192], 0
    stdw [r10-184], 0
    stdw [r10-176], 0
    stdw [r10-168], 0
    stb [r10-192], 2
    stxb [r10-191], r8
    mov64 r1, r10
    add64 r1, -192
    call function_read_u64
    jeq r0, 0, overflow
    mov64 r2, r0
    sub64 r2, 1
    mov64 r1, r10
    add64 r1, -192
    call function_write_u64
    mov64 r0, 0
    exit

bad_input:
    mov64 r0, 1
    exit
overflow:
    mov64 r0, 3
    exit
not_found:
    mov64 r0, 7
    exit
already_voted:
    mov64 r0, 9
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
