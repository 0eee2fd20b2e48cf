using RefQsr.Cli;

namespace RefQsr.Engine.Tests.Parity;

/// <summary>The fixture folders in tests/fixtures (copied beside the test assembly), read with
/// the `refqsr parity` command's reader.</summary>
internal static class FixtureFolders
{
    public static string Root => Path.Combine(AppContext.BaseDirectory, "fixtures");

    public static IEnumerable<string> Names()
        => Directory.Exists(Root)
            ? Directory.GetDirectories(Root).Where(d => File.Exists(Path.Combine(d, "manifest.json"))).Select(Path.GetFileName).Order()!
            : [];

    public static ParityFixture Load(string name) => ParityFixture.Open(Path.Combine(Root, name));
}
