namespace ModWsgi.Core.Registry;

/// <summary>
/// A build environment's registry credential inputs, resolved from its variables: the .NET SDK's
/// DOTNET_CONTAINER_REGISTRY_UNAME/_PWORD (or SDK_CONTAINER_REGISTRY_*), docker's config.json
/// ($DOCKER_CONFIG or ~/.docker) and the PATH that docker-credential-* helpers are found on.
/// </summary>
public sealed record RegistryCredentialSources(RegistryCredential? FromVariables, string DockerConfigPath, string? SearchPath)
{
    private static readonly (string User, string Password)[] VariablePairs =
    [
        ("DOTNET_CONTAINER_REGISTRY_UNAME", "DOTNET_CONTAINER_REGISTRY_PWORD"),
        ("SDK_CONTAINER_REGISTRY_UNAME", "SDK_CONTAINER_REGISTRY_PWORD"),
    ];

    public static IReadOnlyList<string> Variables { get; } =
        [.. VariablePairs.SelectMany(p => new[] { p.User, p.Password }), "DOCKER_CONFIG", "HOME", "PATH"];

    public static RegistryCredentialSources From(Func<string, string?> variable)
    {
        RegistryCredential? fromVariables = null;
        foreach (var (user, password) in VariablePairs)
        {
            if (variable(user) is { Length: > 0 } name && variable(password) is { Length: > 0 } secret)
            {
                fromVariables = new RegistryCredential(name, secret);
                break;
            }
        }
        var directory = variable("DOCKER_CONFIG") is { Length: > 0 } dockerConfig
            ? dockerConfig
            : Path.Combine(BuildEnvironment.HomeDirectory(variable), ".docker");
        return new RegistryCredentialSources(fromVariables, Path.Combine(directory, "config.json"), variable("PATH"));
    }

    // The secret must never reach a log or a message.
    public override string ToString() => $"RegistryCredentialSources {{ FromVariables = {FromVariables}, DockerConfigPath = {DockerConfigPath} }}";
}
