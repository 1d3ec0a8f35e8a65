namespace ModWsgi.Core;

/// <summary>
/// Where pip finds packages. Passed to the build steps as environment of the step only: never written into
/// an image layer or the image config.
/// </summary>
public sealed record PipSettings
{
    public string? IndexUrl { get; init; }

    public IReadOnlyList<string> ExtraIndexUrls { get; init; } = [];

    public IReadOnlyList<string> TrustedHosts { get; init; } = [];

    public IReadOnlyList<string> ToEnvironment()
    {
        var env = new List<string>();
        if (!string.IsNullOrEmpty(IndexUrl))
            env.Add("PIP_INDEX_URL=" + IndexUrl);
        if (ExtraIndexUrls.Count > 0)
            env.Add("PIP_EXTRA_INDEX_URL=" + string.Join(' ', ExtraIndexUrls));
        if (TrustedHosts.Count > 0)
            env.Add("PIP_TRUSTED_HOST=" + string.Join(' ', TrustedHosts));
        return env;
    }
}
