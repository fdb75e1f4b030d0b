#include "textflag.h"

// func copyCRC3(crcA, crcB, crcC uint32, dst, src *byte, n int) (retA, retB, retC uint32)
//
// Copies 3n bytes from src to dst (n a positive multiple of 24) and
// updates three non-inverted CRC32C values, one over each third: the
// crc32 instruction has a latency of three cycles and a throughput of
// one, so three independent streams keep it busy. Each word is loaded
// once into a register, folded into its CRC and stored from that same
// register: the bytes stored are the bytes checksummed.
TEXT ·copyCRC3(SB), NOSPLIT, $0-52
	MOVL crcA+0(FP), AX
	MOVL crcB+4(FP), CX
	MOVL crcC+8(FP), DX
	MOVQ dst+16(FP), DI
	MOVQ src+24(FP), SI
	MOVQ n+32(FP), BX
	LEAQ (SI)(BX*1), R12
	LEAQ (SI)(BX*2), R13
	LEAQ (DI)(BX*1), R14
	LEAQ (DI)(BX*2), R15
	MOVQ BX, R11

loop:
	MOVQ   (SI), R8
	MOVQ   (R12), R9
	MOVQ   (R13), R10
	CRC32Q R8, AX
	CRC32Q R9, CX
	CRC32Q R10, DX
	MOVQ   R8, (DI)
	MOVQ   R9, (R14)
	MOVQ   R10, (R15)
	MOVQ   8(SI), R8
	MOVQ   8(R12), R9
	MOVQ   8(R13), R10
	CRC32Q R8, AX
	CRC32Q R9, CX
	CRC32Q R10, DX
	MOVQ   R8, 8(DI)
	MOVQ   R9, 8(R14)
	MOVQ   R10, 8(R15)
	MOVQ   16(SI), R8
	MOVQ   16(R12), R9
	MOVQ   16(R13), R10
	CRC32Q R8, AX
	CRC32Q R9, CX
	CRC32Q R10, DX
	MOVQ   R8, 16(DI)
	MOVQ   R9, 16(R14)
	MOVQ   R10, 16(R15)
	ADDQ   $24, SI
	ADDQ   $24, R12
	ADDQ   $24, R13
	ADDQ   $24, DI
	ADDQ   $24, R14
	ADDQ   $24, R15
	SUBQ   $24, R11
	JNZ    loop

	MOVL AX, retA+40(FP)
	MOVL CX, retB+44(FP)
	MOVL DX, retC+48(FP)
	RET

// func cpuid1ECX() uint32
TEXT ·cpuid1ECX(SB), NOSPLIT, $0-4
	MOVL $1, AX
	XORL CX, CX
	CPUID
	MOVL CX, ret+0(FP)
	RET
