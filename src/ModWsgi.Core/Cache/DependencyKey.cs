using System.Text;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Project;
using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Cache;

/// <summary>
/// The dependency layer's cache key: a digest over named components — the base image, the runtime layer,
/// the pip settings, the step scripts, and each input file's content and executable bit. Keeping the
/// components (not just the key) lets a miss say exactly which input changed.
/// </summary>
public sealed record DependencyKey(string Key, IReadOnlyDictionary<string, string> Components)
{
    public static DependencyKey Compute(ProjectFiles project, BuildPlan plan,
        string baseConfigDigest, string runtimeDiffId, PipSettings pip, IEnumerable<string>? environment = null)
    {
        var components = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            // The base config digest, not the engine's id: the same base on any engine gives the same layer.
            ["base-image"] = baseConfigDigest,
            ["runtime-layer"] = runtimeDiffId,
            // Hashed, not stored: an index URL may carry credentials.
            ["pip-settings"] = Hash(string.Join('\n', pip.ToEnvironment().Concat(environment ?? []))),
            ["steps"] = Hash(string.Join('\n', plan.DependencySteps.Select(s => s.Script))),
        };
        foreach (var (name, value) in plan.DerivedInputs)
            components[name] = value;
        foreach (var file in project.Enumerate(plan.DependencyInputFilter()))
        {
            if (file.Info.LinkTarget is { } target)
                components["input " + file.RelativePath] = "symlink:" + target;
            else if (file.Info is FileInfo info)
            {
                using var content = info.OpenRead();
                components["input " + file.RelativePath] = Digests.Sha256(content) + (ActionHooks.IsExecutable(info.FullName) ? " +x" : "");
            }
        }
        var key = Digests.Sha256(Encoding.UTF8.GetBytes(string.Concat(components.Select(c => $"{c.Key}={c.Value}\n"))));
        return new DependencyKey(key, components);
    }

    /// <summary>What differs from an earlier build's components, in words for the log.</summary>
    public IReadOnlyList<string> DescribeChangesFrom(IReadOnlyDictionary<string, string>? previous)
    {
        if (previous is null || previous.Count == 0)
            return ["no earlier build of this project"];
        var changes = new List<string>();
        foreach (var (name, value) in Components)
        {
            if (!previous.TryGetValue(name, out var old))
                changes.Add(name + " added");
            else if (old != value)
                changes.Add(name + " changed");
        }
        changes.AddRange(previous.Keys.Where(name => !Components.ContainsKey(name)).Select(name => name + " removed"));
        return changes.Count > 0 ? changes : ["the cached layer is gone from the cache"];
    }

    private static string Hash(string text) => Digests.Sha256(Encoding.UTF8.GetBytes(text));
}
