/* The CE headers: CE's type widths on the 64-bit host, the constants of semantics.md §1 and
 * §7 with their documented values, TEXT()/_T(), DEBUGMSG/RETAILMSG with wide formats (to
 * stderr), ASSERT, LARGE_INTEGER arithmetic and PHYSICAL_ADDRESS.QuadPart. */
// expect-stderr: driver: loaded 3 units, name=uart1 tag=N
#include <pkfuncs.h>
#include <ceddk.h>
#include <cevm.h>
#include "check.h"

_Static_assert(sizeof(DWORD) == 4 && sizeof(ULONG) == 4 && sizeof(UINT) == 4, "32-bit");
_Static_assert(sizeof(LONG) == 4 && sizeof(BOOL) == 4 && sizeof(INT) == 4, "32-bit");
_Static_assert(sizeof(BYTE) == 1 && sizeof(BOOLEAN) == 1 && sizeof(WORD) == 2, "widths");
_Static_assert(sizeof(LONGLONG) == 8 && sizeof(ULONGLONG) == 8, "64-bit");
_Static_assert(sizeof(DWORD_PTR) == sizeof(void *) && sizeof(ULONG_PTR) == sizeof(void *), "ptr");
_Static_assert(sizeof(LARGE_INTEGER) == 8 && sizeof(PHYSICAL_ADDRESS) == 8, "8 bytes");
_Static_assert(sizeof(MEMORYSTATUS) == 32, "eight DWORDs");
_Static_assert(sizeof(HRESULT) == 4, "LONG");
_Static_assert((DWORD)-1 > 0 && (LONG)-1 < 0, "signedness");

int main(void) {
    /* semantics.md §1 */
    CHECK_EQ(PAGE_NOACCESS, 0x01); CHECK_EQ(PAGE_READONLY, 0x02); CHECK_EQ(PAGE_READWRITE, 0x04);
    CHECK_EQ(PAGE_WRITECOPY, 0x08); CHECK_EQ(PAGE_EXECUTE, 0x10); CHECK_EQ(PAGE_EXECUTE_READ, 0x20);
    CHECK_EQ(PAGE_EXECUTE_READWRITE, 0x40); CHECK_EQ(PAGE_EXECUTE_WRITECOPY, 0x80);
    CHECK_EQ(PAGE_GUARD, 0x100); CHECK_EQ(PAGE_NOCACHE, 0x200); CHECK_EQ(PAGE_PHYSICAL, 0x400);
    CHECK_EQ(MEM_COMMIT, 0x1000); CHECK_EQ(MEM_RESERVE, 0x2000); CHECK_EQ(MEM_DECOMMIT, 0x4000);
    CHECK_EQ(MEM_RELEASE, 0x8000); CHECK_EQ(MEM_FREE, 0x10000); CHECK_EQ(MEM_PRIVATE, 0x20000);
    CHECK_EQ(MEM_MAPPED, 0x40000); CHECK_EQ(MEM_RESET, 0x80000); CHECK_EQ(MEM_TOP_DOWN, 0x100000);
    CHECK_EQ(MEM_AUTO_COMMIT, 0x200000); CHECK_EQ(MEM_IMAGE, 0x1000000);
    CHECK_EQ(LOCKFLAG_WRITE, 1); CHECK_EQ(LOCKFLAG_QUERY_ONLY, 2); CHECK_EQ(LOCKFLAG_READ, 4);
    CHECK_EQ(PROCESS_TERMINATE, 1); CHECK_EQ(PROCESS_VM_OPERATION, 8); CHECK_EQ(PROCESS_VM_READ, 0x10);
    CHECK_EQ(PROCESS_VM_WRITE, 0x20); CHECK_EQ(PROCESS_QUERY_INFORMATION, 0x400);
    CHECK_EQ(PROCESS_ALL_ACCESS, 0x1F0FFF);
    CHECK_EQ(ERROR_SUCCESS, 0); CHECK_EQ(ERROR_ACCESS_DENIED, 5); CHECK_EQ(ERROR_INVALID_HANDLE, 6);
    CHECK_EQ(ERROR_NOT_ENOUGH_MEMORY, 8); CHECK_EQ(ERROR_BAD_LENGTH, 24);
    CHECK_EQ(ERROR_SHARING_VIOLATION, 32); CHECK_EQ(ERROR_NOT_SUPPORTED, 50);
    CHECK_EQ(ERROR_INVALID_PARAMETER, 87); CHECK_EQ(ERROR_INVALID_ADDRESS, 487);
    CHECK_EQ(ERROR_NOACCESS, 998);
    CHECK_EQ(STATUS_ACCESS_VIOLATION, 0xC0000005); CHECK_EQ(STATUS_GUARD_PAGE_VIOLATION, 0x80000001);
    /* semantics.md §7 */
    CHECK_EQ(ARG_DW, 0); CHECK_EQ(ARG_I_PTR, 4); CHECK_EQ(ARG_I_WSTR, 5); CHECK_EQ(ARG_I_ASTR, 6);
    CHECK_EQ(ARG_I_PDW, 7); CHECK_EQ(ARG_O_PTR, 8); CHECK_EQ(ARG_O_PDW, 9); CHECK_EQ(ARG_O_PI64, 0xA);
    CHECK_EQ(ARG_IO_PTR, 0xC); CHECK_EQ(ARG_IO_PDW, 0xD); CHECK_EQ(ARG_IO_PI64, 0xE);
    CHECK_EQ(MARSHAL_FORCE_ALIAS, 0x80000000); CHECK_EQ(MARSHAL_CICO_SIZE, 520);
    CHECK_EQ((DWORD)S_OK, 0); CHECK_EQ((DWORD)E_INVALIDARG, 0x80070057);
    CHECK_EQ((DWORD)E_ACCESSDENIED, 0x80070005); CHECK_EQ((DWORD)E_OUTOFMEMORY, 0x8007000E);
    CHECK_EQ((DWORD)HRESULT_FROM_WIN32(ERROR_NOT_SUPPORTED), 0x80070032);
    CHECK(FAILED(E_INVALIDARG) && SUCCEEDED(S_OK));
    CHECK_EQ(EXCEPTION_EXECUTE_HANDLER, 1); CHECK_EQ(EXCEPTION_CONTINUE_SEARCH, 0);
    CHECK(TRUE == 1 && FALSE == 0);
    CHECK(INVALID_HANDLE_VALUE == (HANDLE)(LONG_PTR)-1);

    /* LARGE_INTEGER / PHYSICAL_ADDRESS as drivers use them. */
    PHYSICAL_ADDRESS pa;
    pa.QuadPart = 0x1F0000000ll;
    CHECK_EQ(pa.LowPart, 0xF0000000u);
    CHECK_EQ(pa.HighPart, 1);
    pa.LowPart = 0x1000;
    pa.HighPart = 0;
    CHECK_EQ(pa.QuadPart, 0x1000);
    LARGE_INTEGER a, b;
    a.QuadPart = 5000000000ll;
    b.QuadPart = a.QuadPart * 2 - 1;
    CHECK_EQ(b.QuadPart, 9999999999ll);
    CHECK_EQ(b.u.LowPart, (DWORD)9999999999ll);

    /* TEXT() / _T() are wide; DEBUGMSG / RETAILMSG take CE's wide formats. */
    const WCHAR *name = TEXT("uart1");
    CHECK(sizeof(_T("x")[0]) == sizeof(WCHAR));
    RETAILMSG(1, (TEXT("driver: loaded %d units, name=%s tag=%C\r\n"), 3, name, 'N'));
    DEBUGMSG(0, (L"never printed %s\r\n", name));
    ASSERT(name[0] == L'u');
    DEBUGCHK(1);
    return CHECK_DONE();
}
