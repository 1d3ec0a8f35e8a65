using System.Globalization;

namespace ModWsgi.Core.Python;

/// <summary>
/// A PEP 440 version specifier set as <c>requires-python</c> spells it (<c>&gt;=3.10,&lt;3.14</c>, <c>~=3.11</c>,
/// <c>==3.13.*</c>), matched against the release numbers of a Python version.
/// Written here because no maintained PEP 440 library is obtainable from the NuGet source: NuGet.Versioning's ranges
/// are NuGet's notation (<c>[3.10, 3.14)</c>), not PEP 440's. Only what a Python version needs is supported: release
/// segments (no pre-, post- or dev-releases, no local versions, which no base image's Python is).
/// </summary>
public sealed class PythonSpecifier
{
    private static readonly string[] Operators = ["~=", "===", "==", "!=", "<=", ">=", "<", ">"];

    private readonly IReadOnlyList<Clause> _clauses;

    private PythonSpecifier(string text, IReadOnlyList<Clause> clauses) => (Text, _clauses) = (text, clauses);

    /// <summary>The specifier set as written.</summary>
    public string Text { get; }

    /// <summary>Parses a comma-separated specifier set; false (with the reason) when it is not one.</summary>
    public static bool TryParse(string text, out PythonSpecifier specifier, out string problem)
    {
        specifier = null!;
        var clauses = new List<Clause>();
        foreach (var raw in text.Split(','))
        {
            var part = raw.Trim();
            var op = Operators.FirstOrDefault(o => part.StartsWith(o, StringComparison.Ordinal));
            if (op is null)
            {
                problem = $"'{part}' does not start with one of {string.Join(" ", Operators)}";
                return false;
            }
            var operand = part[op.Length..].Trim();
            if (op == "===")
            {
                clauses.Add(new Clause(op, [], Wildcard: false, operand));
                continue;
            }
            var wildcard = operand.EndsWith(".*", StringComparison.Ordinal);
            if (wildcard && op is not ("==" or "!="))
            {
                problem = $"'{part}': only == and != take a '.*' version";
                return false;
            }
            if (!TryParseRelease(wildcard ? operand[..^2] : operand, out var release))
            {
                problem = $"'{part}': '{operand}' is not a release version like 3.11 or 3.11.4";
                return false;
            }
            if (op == "~=" && release.Length < 2)
            {
                problem = $"'{part}': ~= needs at least two numbers (~=3.11)";
                return false;
            }
            clauses.Add(new Clause(op, release, wildcard, operand));
        }
        specifier = new PythonSpecifier(text.Trim(), clauses);
        problem = "";
        return true;
    }

    /// <summary>"3", "3.11", "3.11.4": one or more dot-separated non-negative numbers.</summary>
    public static bool TryParseRelease(string text, out int[] release)
    {
        var parts = text.Split('.');
        release = new int[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            if (parts[i].Length == 0 || !parts[i].All(char.IsAsciiDigit)
                || !int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out release[i]))
                return false;
        }
        return true;
    }

    /// <summary>Whether every clause admits the version (e.g. "3.13.5").</summary>
    public bool IsSatisfiedBy(string version)
    {
        if (!TryParseRelease(version, out var release))
            throw new ArgumentException($"'{version}' is not a release version", nameof(version));
        return _clauses.All(c => c.Admits(release, version));
    }

    public override string ToString() => Text;

    private sealed record Clause(string Operator, int[] Release, bool Wildcard, string Operand)
    {
        public bool Admits(int[] version, string text)
        {
            var order = Compare(version, Release);
            return Operator switch
            {
                "===" => string.Equals(text, Operand, StringComparison.OrdinalIgnoreCase),
                "==" => Wildcard ? HasPrefix(version, Release) : order == 0,
                "!=" => Wildcard ? !HasPrefix(version, Release) : order != 0,
                "<=" => order <= 0,
                ">=" => order >= 0,
                "<" => order < 0,
                ">" => order > 0,
                // ~=3.11.2 is >=3.11.2 and ==3.11.*: the last number may grow, the ones before it stay.
                "~=" => order >= 0 && HasPrefix(version, Release[..^1]),
                _ => false,
            };
        }

        /// <summary>PEP 440 pads the shorter release with zeros: 3.13 == 3.13.0.</summary>
        private static int Compare(int[] a, int[] b)
        {
            for (var i = 0; i < Math.Max(a.Length, b.Length); i++)
            {
                var order = (i < a.Length ? a[i] : 0).CompareTo(i < b.Length ? b[i] : 0);
                if (order != 0)
                    return order;
            }
            return 0;
        }

        private static bool HasPrefix(int[] version, int[] prefix) =>
            prefix.Select((n, i) => (i < version.Length ? version[i] : 0) == n).All(x => x);
    }
}
