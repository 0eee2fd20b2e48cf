namespace RefQsr.Engine.Weights;

public enum TensorDType { F32, F64, I8, U8, I16, I32, I64 }

internal static class TensorDTypes
{
    public static int Size(TensorDType t) => t switch
    {
        TensorDType.I8 or TensorDType.U8 => 1,
        TensorDType.I16 => 2,
        TensorDType.F32 or TensorDType.I32 => 4,
        _ => 8,
    };

    public static bool TryParse(string s, out TensorDType t) => s switch
    {
        "F32" => Set(TensorDType.F32, out t),
        "F64" => Set(TensorDType.F64, out t),
        "I8" => Set(TensorDType.I8, out t),
        "U8" => Set(TensorDType.U8, out t),
        "I16" => Set(TensorDType.I16, out t),
        "I32" => Set(TensorDType.I32, out t),
        "I64" => Set(TensorDType.I64, out t),
        _ => Set(default, out t) && false,
    };

    static bool Set(TensorDType v, out TensorDType t) { t = v; return true; }
}
