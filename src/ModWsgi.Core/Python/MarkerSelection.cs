using System.Text.RegularExpressions;

namespace ModWsgi.Core.Python;

/// <summary>
/// Decides the parts of a PEP 508 environment marker that name the selection rather than the machine —
/// <c>'dev' in dependency_groups</c>, <c>'pg' in extras</c> (PEP 751) and <c>extra == 'pg'</c> — and gives back
/// what is left for pip to evaluate. pip 23 knows neither <c>extras</c> nor <c>dependency_groups</c>, so a lock's
/// markers must not reach it with those in. (No maintained .NET PEP 508 library exists; the grammar is small.)
/// </summary>
public static partial class MarkerSelection
{
    private abstract record Node;
    private sealed record Constant(bool Value) : Node;
    private sealed record Term(string Left, string Op, string Right) : Node;
    private sealed record Junction(bool IsAnd, IReadOnlyList<Node> Parts) : Node;

    /// <summary>The outcome: never installed, always (no marker left), or installed where <see cref="Residual"/> holds.</summary>
    public sealed record Result(bool Never, string? Residual);

    /// <summary>Evaluates the selection terms of <paramref name="marker"/> for the chosen extras and groups.</summary>
    /// <exception cref="FormatException">The marker is not PEP 508.</exception>
    public static Result Apply(string? marker, IReadOnlySet<string> extras, IReadOnlySet<string> groups)
    {
        if (string.IsNullOrWhiteSpace(marker))
            return new Result(false, null);
        var tokens = Tokenize(marker);
        var position = 0;
        var tree = ParseOr(tokens, ref position);
        if (position != tokens.Count)
            throw new FormatException($"unexpected '{tokens[position]}' in marker '{marker}'");
        return Simplify(Evaluate(tree, extras, groups)) switch
        {
            Constant { Value: false } => new Result(true, null),
            Constant { Value: true } => new Result(false, null),
            var rest => new Result(false, Write(rest, top: true)),
        };
    }

    private static Node Evaluate(Node node, IReadOnlySet<string> extras, IReadOnlySet<string> groups) => node switch
    {
        Junction j => new Junction(j.IsAnd, j.Parts.Select(p => Evaluate(p, extras, groups)).ToArray()),
        Term { Op: "in" or "not in" } t when t.Right is "extras" or "dependency_groups" && Unquote(t.Left) is { } name =>
            new Constant((t.Right == "extras" ? extras : groups).Contains(Normalize(name)) == (t.Op == "in")),
        Term { Left: "extra", Op: "==" or "!=" } t when Unquote(t.Right) is { } name =>
            new Constant(extras.Contains(Normalize(name)) == (t.Op == "==")),
        Term { Right: "extra", Op: "==" or "!=" } t when Unquote(t.Left) is { } name =>
            new Constant(extras.Contains(Normalize(name)) == (t.Op == "==")),
        _ => node,
    };

    private static Node Simplify(Node node)
    {
        if (node is not Junction j)
            return node;
        var parts = new List<Node>();
        foreach (var part in j.Parts.Select(Simplify))
        {
            if (part is Constant c)
            {
                // and: false decides, true drops out; or: true decides, false drops out.
                if (c.Value != j.IsAnd)
                    return c;
                continue;
            }
            parts.Add(part);
        }
        return parts.Count switch
        {
            0 => new Constant(j.IsAnd),
            1 => parts[0],
            _ => new Junction(j.IsAnd, parts),
        };
    }

    private static string Write(Node node, bool top) => node switch
    {
        Term t => $"{t.Left} {t.Op} {t.Right}",
        Junction j => (top ? "" : "(") + string.Join(j.IsAnd ? " and " : " or ", j.Parts.Select(p => Write(p, false))) + (top ? "" : ")"),
        Constant c => c.Value ? "python_version >= '0'" : "python_version < '0'",
        _ => throw new InvalidOperationException(),
    };

    private static Node ParseOr(List<string> tokens, ref int position)
    {
        var parts = new List<Node> { ParseAnd(tokens, ref position) };
        while (position < tokens.Count && tokens[position] == "or")
        {
            position++;
            parts.Add(ParseAnd(tokens, ref position));
        }
        return parts.Count == 1 ? parts[0] : new Junction(false, parts);
    }

    private static Node ParseAnd(List<string> tokens, ref int position)
    {
        var parts = new List<Node> { ParseAtom(tokens, ref position) };
        while (position < tokens.Count && tokens[position] == "and")
        {
            position++;
            parts.Add(ParseAtom(tokens, ref position));
        }
        return parts.Count == 1 ? parts[0] : new Junction(true, parts);
    }

    private static Node ParseAtom(List<string> tokens, ref int position)
    {
        if (position < tokens.Count && tokens[position] == "(")
        {
            position++;
            var inner = ParseOr(tokens, ref position);
            if (position >= tokens.Count || tokens[position] != ")")
                throw new FormatException("a '(' is not closed");
            position++;
            return inner;
        }
        if (position + 3 > tokens.Count)
            throw new FormatException("a comparison is incomplete");
        var left = tokens[position];
        var op = tokens[position + 1];
        var right = tokens[position + 2];
        if (!IsValue(left) || !IsValue(right) || !Operators.Contains(op))
            throw new FormatException($"'{left} {op} {right}' is not a marker comparison");
        position += 3;
        return new Term(left, op, right);
    }

    private static readonly HashSet<string> Operators = ["<=", "<", "!=", "===", "==", ">=", ">", "~=", "in", "not in"];

    private static bool IsValue(string token) => token.Length > 0 && (token[0] is '\'' or '"' || char.IsLetter(token[0]) || token[0] == '_')
        && token is not ("and" or "or" or "in" or "not in");

    private static List<string> Tokenize(string marker)
    {
        var tokens = new List<string>();
        for (var i = 0; i < marker.Length;)
        {
            var c = marker[i];
            if (char.IsWhiteSpace(c))
                i++;
            else if (c is '(' or ')')
            {
                tokens.Add(c.ToString());
                i++;
            }
            else if (c is '\'' or '"')
            {
                var end = marker.IndexOf(c, i + 1);
                if (end < 0)
                    throw new FormatException($"a quote is not closed in marker '{marker}'");
                tokens.Add(marker[i..(end + 1)]);
                i = end + 1;
            }
            else if (OperatorPattern().Match(marker, i) is { Success: true, Index: var at } op && at == i)
            {
                tokens.Add(op.Value);
                i += op.Length;
            }
            else if (char.IsLetter(c) || c == '_')
            {
                var start = i;
                while (i < marker.Length && (char.IsLetterOrDigit(marker[i]) || marker[i] is '_' or '.'))
                    i++;
                var word = marker[start..i];
                if (word == "not")
                {
                    var rest = marker.AsSpan(i).TrimStart();
                    if (!rest.StartsWith("in") || (rest.Length > 2 && (char.IsLetterOrDigit(rest[2]) || rest[2] == '_')))
                        throw new FormatException($"'not' without 'in' in marker '{marker}'");
                    i = marker.Length - rest.Length + 2;
                    word = "not in";
                }
                tokens.Add(word);
            }
            else
                throw new FormatException($"unexpected '{c}' in marker '{marker}'");
        }
        return tokens;
    }

    [GeneratedRegex("===|==|!=|<=|>=|~=|<|>")]
    private static partial Regex OperatorPattern();

    private static string? Unquote(string token) => token.Length >= 2 && token[0] is '\'' or '"' ? token[1..^1] : null;

    /// <summary>PEP 503/685 normalization of project, extra and group names.</summary>
    public static string Normalize(string name) => NamePattern().Replace(name.Trim(), "-").ToLowerInvariant();

    [GeneratedRegex("[-_.]+")]
    private static partial Regex NamePattern();
}
