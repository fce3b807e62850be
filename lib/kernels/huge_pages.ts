/**
 * Transparent huge pages for the kernels' large buffers. A GEMV streams its weights once per call; on 4 KiB pages
 * each of its row streams crosses a page (a TLB miss, and the hardware prefetcher stops at the boundary) every 4 KiB.
 * Linux's `madvise(MADV_HUGEPAGE)` on a range not yet touched makes its first-touch faults map 2 MiB pages where the
 * machine's THP mode is `madvise` or `always` (a no-op under `never`). V8 hands a new ArrayBuffer's bytes over
 * untouched, so advising it before the first write is enough.
 */

/** The huge page size on x86-64 Linux. */
export const HUGE_PAGE_BYTES = 2 ** 21;

/** linux/mman.h MADV_HUGEPAGE. */
const MADV_HUGEPAGE = 14;

type Madvise = (addr: Deno.PointerValue, length: bigint, advice: number) => number;
let madvise: Madvise | null | undefined;

/** libc's madvise through FFI, or null where there is none (not Linux, no FFI permission). */
function libcMadvise(): Madvise | null {
  if (madvise !== undefined) return madvise;
  madvise = null;
  if (Deno.build.os !== "linux") return madvise;
  try {
    const libc = Deno.dlopen("libc.so.6", {
      madvise: { parameters: ["pointer", "usize", "i32"], result: "i32" },
    });
    madvise = (addr, length, advice) => libc.symbols.madvise(addr, length, advice);
  } catch {
    madvise = null;
  }
  return madvise;
}

/** The machine's THP mode (`always`, `madvise`, `never`), or null where sysfs does not say. */
export function transparentHugePages(): string | null {
  try {
    const text = Deno.readTextFileSync("/sys/kernel/mm/transparent_hugepage/enabled");
    return /\[(\w+)\]/.exec(text)?.[1] ?? null;
  } catch {
    return null;
  }
}

/**
 * Ask for huge pages over the whole 2 MiB pages inside `a` (call before writing to it: pages already touched stay
 * small until the kernel's khugepaged collapses them). Returns the bytes advised: 0 where `a` holds no whole huge
 * page or the system has no madvise.
 */
export function adviseHugePages(a: Uint8Array): number {
  const fn = a.byteLength >= HUGE_PAGE_BYTES ? libcMadvise() : null;
  if (!fn) return 0;
  const ptr = Deno.UnsafePointer.of(a as Uint8Array<ArrayBuffer>);
  const at = Deno.UnsafePointer.value(ptr);
  const page = BigInt(HUGE_PAGE_BYTES);
  const start = (at + page - 1n) / page * page, end = (at + BigInt(a.byteLength)) / page * page;
  if (end <= start) return 0;
  return fn(Deno.UnsafePointer.create(start), end - start, MADV_HUGEPAGE) === 0 ? Number(end - start) : 0;
}
