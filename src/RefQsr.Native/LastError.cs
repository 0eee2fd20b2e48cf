using System.Runtime.InteropServices;

namespace RefQsr.Native;

/// <summary>refqsr_last_error: each thread's last failure message as UTF-8 in native memory,
/// kept until that thread's next failure (the caller reads it after the call returns).</summary>
internal static unsafe class LastError
{
    [ThreadStatic] static byte* message;
    static readonly byte* empty = (byte*)NativeMemory.AllocZeroed(1);

    public static byte* Get() => message != null ? message : empty;

    public static void Set(string text)
    {
        byte* old = message;
        int n = System.Text.Encoding.UTF8.GetByteCount(text);
        byte* m = (byte*)NativeMemory.Alloc((nuint)n + 1);
        System.Text.Encoding.UTF8.GetBytes(text, new Span<byte>(m, n));
        m[n] = 0;
        message = m;
        if (old != null) NativeMemory.Free(old);
    }
}
