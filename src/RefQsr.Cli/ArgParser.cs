using System.Globalization;

namespace RefQsr.Cli;

/// <summary>Minimal POSIX-style parser: positionals, <c>--flag</c>, <c>--name value</c>
/// and <c>--name=value</c>. Unknown options are errors, not silently ignored.</summary>
public sealed class ArgParser
{
    readonly List<string> positionals = [];
    readonly Dictionary<string, string?> options = new(StringComparer.Ordinal);
    readonly HashSet<string> used = new(StringComparer.Ordinal);

    public ArgParser(IEnumerable<string> args, IEnumerable<string> flagNames, IEnumerable<string> valuedNames)
    {
        var flags = flagNames.ToHashSet(StringComparer.Ordinal);
        var valued = valuedNames.ToHashSet(StringComparer.Ordinal);
        using var e = args.GetEnumerator();
        while (e.MoveNext())
        {
            string a = e.Current;
            if (a.StartsWith("--", StringComparison.Ordinal) && a.Length > 2)
            {
                string name = a[2..];
                string? value = null;
                int eq = name.IndexOf('=');
                if (eq >= 0) { value = name[(eq + 1)..]; name = name[..eq]; }
                if (flags.Contains(name))
                {
                    if (value is not null) throw CliException.Usage($"option --{name} takes no value");
                }
                else if (valued.Contains(name))
                {
                    if (value is null)
                    {
                        if (!e.MoveNext()) throw CliException.Usage($"option --{name} needs a value");
                        value = e.Current;
                    }
                }
                else throw CliException.Usage($"unknown option --{name}");
                if (options.ContainsKey(name)) throw CliException.Usage($"option --{name} given twice");
                options[name] = value;
            }
            else positionals.Add(a);
        }
    }

    public IReadOnlyList<string> Positionals => positionals;
    public bool Has(string name) => options.ContainsKey(name);
    public string? Get(string name) => options.TryGetValue(name, out var v) ? v : null;

    public int GetInt(string name, int fallback, int min, int max)
    {
        var s = Get(name);
        if (s is null) return fallback;
        if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) || v < min || v > max)
            throw CliException.Usage($"--{name} must be an integer in {min}..{max}, got '{s}'");
        return v;
    }

    public long GetLong(string name, long fallback, long min, long max)
    {
        var s = Get(name);
        if (s is null) return fallback;
        if (!long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) || v < min || v > max)
            throw CliException.Usage($"--{name} must be an integer in {min}..{max}, got '{s}'");
        return v;
    }

    /// <summary>A finite number in [min, max], or null when the option is absent.</summary>
    public double? GetDouble(string name, double min, double max)
    {
        var s = Get(name);
        if (s is null) return null;
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v) || v < min || v > max)
            throw CliException.Usage($"--{name} must be a number in {min}..{max}, got '{s}'");
        return v;
    }

    public (int W, int H) GetSize(string name, (int, int) fallback)
    {
        var s = Get(name);
        if (s is null) return fallback;
        var parts = s.Split('x', 'X');
        if (parts.Length != 2 || !int.TryParse(parts[0], out int w) || !int.TryParse(parts[1], out int h) || w <= 0 || h <= 0 || w > 1 << 16 || h > 1 << 16)
            throw CliException.Usage($"--{name} must look like WIDTHxHEIGHT (e.g. 1024x540), got '{s}'");
        return (w, h);
    }
}
