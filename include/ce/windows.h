/* windows.h for cevm: the CE types, constants and everyday macros that driver code uses,
 * with CE's 32-bit widths on a 64-bit Linux host, and the Win32 memory calls libcevm
 * implements. Written for cevm from the documented prototypes (c-abi.md). Link with
 * -lcevm. pkfuncs.h and ceddk.h include this file. */
#ifndef CEVM_CE_WINDOWS_H
#define CEVM_CE_WINDOWS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <wchar.h>

#include "cevm_seh.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- types: CE's widths ---------------------------------------------------------------- */
typedef void VOID;
typedef uint8_t BYTE;
typedef uint8_t BOOLEAN;
typedef uint8_t UCHAR;
typedef char CHAR;
typedef int16_t SHORT;
typedef uint16_t WORD;
typedef uint16_t USHORT;
typedef uint32_t DWORD;
typedef uint32_t ULONG;
typedef uint32_t UINT;
typedef int32_t LONG;
typedef int32_t BOOL;
typedef int32_t INT;
typedef int64_t LONGLONG;
typedef uint64_t ULONGLONG;
typedef int64_t LONG64;
typedef uint64_t ULONG64;
typedef uint64_t DWORD64;
typedef uintptr_t DWORD_PTR;
typedef uintptr_t ULONG_PTR;
typedef uintptr_t UINT_PTR;
typedef intptr_t LONG_PTR;
typedef intptr_t INT_PTR;
typedef size_t SIZE_T;
typedef LONG HRESULT;
/* WCHAR is the host's wchar_t (32-bit on Linux; 16-bit on CE): L"..." literals work. */
typedef wchar_t WCHAR;
typedef WCHAR TCHAR;

typedef void *LPVOID, *PVOID;
typedef const void *LPCVOID, *PCVOID;
typedef void *HANDLE;
typedef HANDLE *PHANDLE;
typedef BYTE *PBYTE, *LPBYTE;
typedef WORD *PWORD, *LPWORD;
typedef DWORD *PDWORD, *LPDWORD;
typedef ULONG *PULONG;
typedef LONG *PLONG, *LPLONG;
typedef UINT *PUINT;
typedef BOOL *PBOOL, *LPBOOL;
typedef CHAR *LPSTR, *PSTR;
typedef const CHAR *LPCSTR, *PCSTR;
typedef WCHAR *LPWSTR, *PWSTR;
typedef const WCHAR *LPCWSTR, *PCWSTR;
typedef TCHAR *LPTSTR, *PTSTR;
typedef const TCHAR *LPCTSTR, *PCTSTR;

typedef union _LARGE_INTEGER {
    struct {
        DWORD LowPart;
        LONG HighPart;
    };
    struct {
        DWORD LowPart;
        LONG HighPart;
    } u;
    LONGLONG QuadPart;
} LARGE_INTEGER, *PLARGE_INTEGER;

typedef union _ULARGE_INTEGER {
    struct {
        DWORD LowPart;
        DWORD HighPart;
    };
    struct {
        DWORD LowPart;
        DWORD HighPart;
    } u;
    ULONGLONG QuadPart;
} ULARGE_INTEGER, *PULARGE_INTEGER;

typedef LARGE_INTEGER PHYSICAL_ADDRESS, *PPHYSICAL_ADDRESS;

/* The structs keep CE's field types; pointers are host pointers (window pointers). */
typedef struct _MEMORY_BASIC_INFORMATION {
    PVOID BaseAddress;
    PVOID AllocationBase;
    DWORD AllocationProtect;
    DWORD RegionSize;
    DWORD State;
    DWORD Protect;
    DWORD Type;
} MEMORY_BASIC_INFORMATION, *PMEMORY_BASIC_INFORMATION;

typedef struct _SYSTEM_INFO {
    WORD wProcessorArchitecture;
    WORD wReserved;
    DWORD dwPageSize;
    LPVOID lpMinimumApplicationAddress;
    LPVOID lpMaximumApplicationAddress;
    DWORD dwActiveProcessorMask;
    DWORD dwNumberOfProcessors;
    DWORD dwProcessorType;
    DWORD dwAllocationGranularity;
    WORD wProcessorLevel;
    WORD wProcessorRevision;
} SYSTEM_INFO, *LPSYSTEM_INFO;

typedef struct _MEMORYSTATUS {
    DWORD dwLength;
    DWORD dwMemoryLoad;
    DWORD dwTotalPhys;
    DWORD dwAvailPhys;
    DWORD dwTotalPageFile;
    DWORD dwAvailPageFile;
    DWORD dwTotalVirtual;
    DWORD dwAvailVirtual;
} MEMORYSTATUS, *LPMEMORYSTATUS;

/* ---- everyday macros -------------------------------------------------------------------- */
#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif
#define WINAPI
#define APIENTRY
#define CALLBACK
#define IN
#define OUT
#define OPTIONAL
#define CONST const
#define INVALID_HANDLE_VALUE ((HANDLE)(LONG_PTR)-1)
#define TEXT(s) L##s
#define _T(s) L##s
#define _TEXT(s) L##s
#define MAKELONG(lo, hi) ((LONG)(((WORD)(lo)) | (((DWORD)((WORD)(hi))) << 16)))
#define LOWORD(l) ((WORD)((DWORD_PTR)(l) & 0xFFFF))
#define HIWORD(l) ((WORD)(((DWORD_PTR)(l) >> 16) & 0xFFFF))
#define UNREFERENCED_PARAMETER(p) ((void)(p))

/* ---- constants (semantics.md §1 and §7) ------------------------------------------------- */
#define PAGE_NOACCESS 0x01
#define PAGE_READONLY 0x02
#define PAGE_READWRITE 0x04
#define PAGE_WRITECOPY 0x08
#define PAGE_EXECUTE 0x10
#define PAGE_EXECUTE_READ 0x20
#define PAGE_EXECUTE_READWRITE 0x40
#define PAGE_EXECUTE_WRITECOPY 0x80
#define PAGE_GUARD 0x100
#define PAGE_NOCACHE 0x200
#define PAGE_PHYSICAL 0x400

#define MEM_COMMIT 0x1000
#define MEM_RESERVE 0x2000
#define MEM_DECOMMIT 0x4000
#define MEM_RELEASE 0x8000
#define MEM_FREE 0x10000
#define MEM_PRIVATE 0x20000
#define MEM_MAPPED 0x40000
#define MEM_RESET 0x80000
#define MEM_TOP_DOWN 0x100000
#define MEM_AUTO_COMMIT 0x200000
#define MEM_IMAGE 0x1000000

#define LOCKFLAG_WRITE 0x1
#define LOCKFLAG_QUERY_ONLY 0x2
#define LOCKFLAG_READ 0x4

#define PROCESS_TERMINATE 0x0001
#define PROCESS_VM_OPERATION 0x0008
#define PROCESS_VM_READ 0x0010
#define PROCESS_VM_WRITE 0x0020
#define PROCESS_QUERY_INFORMATION 0x0400
#define PROCESS_ALL_ACCESS 0x001F0FFF

#define ERROR_SUCCESS 0
#define ERROR_ACCESS_DENIED 5
#define ERROR_INVALID_HANDLE 6
#define ERROR_NOT_ENOUGH_MEMORY 8
#define ERROR_BAD_LENGTH 24
#define ERROR_SHARING_VIOLATION 32
#define ERROR_NOT_SUPPORTED 50
#define ERROR_INVALID_PARAMETER 87
#define ERROR_INVALID_ADDRESS 487
#define ERROR_NOACCESS 998

#define STATUS_ACCESS_VIOLATION 0xC0000005
#define STATUS_GUARD_PAGE_VIOLATION 0x80000001

#define S_OK ((HRESULT)0x00000000)
#define E_INVALIDARG ((HRESULT)0x80070057)
#define E_ACCESSDENIED ((HRESULT)0x80070005)
#define E_OUTOFMEMORY ((HRESULT)0x8007000E)
#define SUCCEEDED(hr) (((HRESULT)(hr)) >= 0)
#define FAILED(hr) (((HRESULT)(hr)) < 0)
#define HRESULT_FROM_WIN32(e) \
    ((HRESULT)(e) <= 0 ? ((HRESULT)(e)) : ((HRESULT)(((e) & 0x0000FFFF) | 0x80070000)))

/* ---- debug output: DEBUGMSG(cond, (fmt, ...)) with wide formats, to stderr --------------- */
/* Formats follow the Microsoft convention of wide printf: %s and %c are wide, %S and %C
 * narrow; they are rewritten to glibc's %ls/%lc and %s/%c before formatting. */
static inline void cevm_debug_printw(const WCHAR *fmt, ...) {
    WCHAR f[1024], out[2048];
    size_t j = 0;
    for (size_t i = 0; fmt[i] && j + 3 < sizeof f / sizeof f[0]; i++) {
        f[j++] = fmt[i];
        if (fmt[i] != L'%')
            continue;
        if (fmt[i + 1] == L'%') {
            f[j++] = fmt[++i];
            continue;
        }
        while (fmt[i + 1] && wcschr(L"-+ #0123456789.*", fmt[i + 1]) && j + 3 < sizeof f / sizeof f[0])
            f[j++] = fmt[++i];
        if (fmt[i + 1] == L's' || fmt[i + 1] == L'c') {
            f[j++] = L'l';
        } else if (fmt[i + 1] == L'S' || fmt[i + 1] == L'C') {
            f[j++] = fmt[++i] == L'S' ? L's' : L'c';
        }
    }
    f[j] = 0;
    va_list ap;
    va_start(ap, fmt);
    int n = vswprintf(out, sizeof out / sizeof out[0], f, ap);
    va_end(ap);
    if (n < 0)
        n = (int)wcslen(out);
    /* Written as UTF-8 byte by byte, so stderr keeps its narrow orientation. */
    for (int i = 0; i < n; i++) {
        uint32_t c = (uint32_t)out[i];
        if (c < 0x80) {
            fputc((int)c, stderr);
        } else if (c < 0x800) {
            fputc(0xC0 | (c >> 6), stderr);
            fputc(0x80 | (c & 0x3F), stderr);
        } else if (c < 0x10000) {
            fputc(0xE0 | (c >> 12), stderr);
            fputc(0x80 | ((c >> 6) & 0x3F), stderr);
            fputc(0x80 | (c & 0x3F), stderr);
        } else {
            fputc(0xF0 | (c >> 18), stderr);
            fputc(0x80 | ((c >> 12) & 0x3F), stderr);
            fputc(0x80 | ((c >> 6) & 0x3F), stderr);
            fputc(0x80 | (c & 0x3F), stderr);
        }
    }
    fflush(stderr);
}
#define NKDbgPrintfW cevm_debug_printw
#define RETAILMSG(cond, printf_exp) ((void)((cond) ? (cevm_debug_printw printf_exp, 1) : 0))
#define DEBUGMSG(cond, printf_exp) RETAILMSG(cond, printf_exp)
#define DEBUGZONE(n) (1)
#define ASSERT(x)                                                                          \
    ((void)((x) ? 0                                                                        \
                : (fprintf(stderr, "cevm: ASSERT failed: %s at %s:%d\n", #x, __FILE__,      \
                           __LINE__),                                                       \
                   abort(), 0)))
#define DEBUGCHK(x) ASSERT(x)

/* ---- the Win32 memory calls (semantics.md §5) ------------------------------------------- */
LPVOID VirtualAlloc(LPVOID lpAddress, DWORD dwSize, DWORD flAllocationType, DWORD flProtect);
LPVOID VirtualAllocEx(HANDLE hProcess, LPVOID lpAddress, DWORD dwSize, DWORD flAllocationType,
                      DWORD flProtect);
BOOL VirtualFree(LPVOID lpAddress, DWORD dwSize, DWORD dwFreeType);
BOOL VirtualFreeEx(HANDLE hProcess, LPVOID lpAddress, DWORD dwSize, DWORD dwFreeType);
BOOL VirtualProtect(LPVOID lpAddress, DWORD dwSize, DWORD flNewProtect, PDWORD lpflOldProtect);
BOOL VirtualProtectEx(HANDLE hProcess, LPVOID lpAddress, DWORD dwSize, DWORD flNewProtect,
                      PDWORD lpflOldProtect);
/* dwLength must be at least sizeof(MEMORY_BASIC_INFORMATION) (40 on the host, not 28);
 * returns that size. */
DWORD VirtualQuery(LPCVOID lpAddress, PMEMORY_BASIC_INFORMATION lpBuffer, DWORD dwLength);
DWORD VirtualQueryEx(HANDLE hProcess, LPCVOID lpAddress, PMEMORY_BASIC_INFORMATION lpBuffer,
                     DWORD dwLength);
BOOL ReadProcessMemory(HANDLE hProcess, LPCVOID lpBaseAddress, LPVOID lpBuffer, DWORD nSize,
                       LPDWORD lpNumberOfBytesRead);
BOOL WriteProcessMemory(HANDLE hProcess, LPVOID lpBaseAddress, LPVOID lpBuffer, DWORD nSize,
                        LPDWORD lpNumberOfBytesWritten);
HANDLE OpenProcess(DWORD fdwAccess, BOOL fInherit, DWORD IDProcess);
BOOL CloseHandle(HANDLE hObject);
BOOL TerminateProcess(HANDLE hProcess, DWORD uExitCode);
/* (HANDLE)0x42 */
HANDLE GetCurrentProcess(void);
DWORD GetCurrentProcessId(void);
DWORD GetLastError(void);
void SetLastError(DWORD dwErrCode);
void GetSystemInfo(LPSYSTEM_INFO lpSystemInfo);
void GlobalMemoryStatus(LPMEMORYSTATUS lpBuffer);

#ifdef __cplusplus
}
#endif

#endif /* CEVM_CE_WINDOWS_H */
