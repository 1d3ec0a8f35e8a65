namespace ModWsgi.Core.Diagnostics;

/// <summary>One row of the diagnostics table: a stable id and what it is about.</summary>
public sealed record DiagnosticCode(int Number, string Title)
{
    public string Id => $"MODWSGI{Number:D4}";
}

/// <summary>
/// The table of every code the product emits. Ranges: 1xxx registry, 2xxx project/config,
/// 3xxx engine and tools, 4xxx task plumbing, 5xxx Python/pip/hooks. Numbers are never reused.
/// </summary>
public static class DiagnosticCodes
{
    // 1xxx registry
    public static readonly DiagnosticCode RegistryUnreachable = new(1001, "The registry could not be reached");
    public static readonly DiagnosticCode RegistryAuthenticationFailed = new(1002, "The registry needs credentials that are missing or were rejected");
    public static readonly DiagnosticCode RegistryRequestFailed = new(1003, "The registry rejected a request");
    public static readonly DiagnosticCode CredentialHelperFailed = new(1004, "A docker credential helper is missing or failed");
    public static readonly DiagnosticCode RegistryInsecureRefused = new(1005, "Plain HTTP to a registry not listed as insecure was refused");
    public static readonly DiagnosticCode DockerConfigInvalid = new(1006, "The docker config.json cannot be read");
    public static readonly DiagnosticCode InvalidRegistryName = new(1007, "The registry is not a host[:port]");

    // 2xxx project and configuration
    public static readonly DiagnosticCode ProjectDirectoryMissing = new(2001, "The project folder does not exist");
    public static readonly DiagnosticCode RequirementsFileMissing = new(2002, "A requirements file named by -r/-c does not exist or is outside the project");
    public static readonly DiagnosticCode InvalidRepositoryName = new(2003, "ContainerRepository is not a valid image name");
    public static readonly DiagnosticCode InvalidImageTag = new(2004, "A container image tag is not valid");
    public static readonly DiagnosticCode InvalidApplicationType = new(2005, "WsgiApplicationType is not script, module, paste or static");
    public static readonly DiagnosticCode EntryPointMissing = new(2006, "The WSGI entry point does not exist");
    public static readonly DiagnosticCode InvalidUrlAlias = new(2007, "A WsgiUrlAlias is malformed");
    public static readonly DiagnosticCode InvalidServerOption = new(2008, "A server option is malformed");
    public static readonly DiagnosticCode RuntimeFilesMissing = new(2009, "The SDK's runtime scripts are missing");
    public static readonly DiagnosticCode HookNotExecutable = new(2010, "An action hook exists but is not executable");
    public static readonly DiagnosticCode InvalidDockerIgnorePattern = new(2011, "A .dockerignore pattern is malformed");
    public static readonly DiagnosticCode ServerNotInRequirements = new(2012, "The chosen WsgiServer is not in the requirements");
    public static readonly DiagnosticCode InputAlwaysExcluded = new(2013, "A requirement names a path the image always leaves out");
    public static readonly DiagnosticCode ProjectNotEvaluable = new(2014, "The .proj could not be evaluated by MSBuild");
    public static readonly DiagnosticCode PythonVersionInvalid = new(2025, "The Python version asked for is malformed");
    public static readonly DiagnosticCode PythonVersionUnavailable = new(2026, "No base image provides the Python version asked for");
    public static readonly DiagnosticCode BaseImageContradictsPythonVersion = new(2027, "ContainerBaseImage gives another Python than the project asks for");
    public static readonly DiagnosticCode PyprojectUnreadable = new(2028, "pyproject.toml is not valid TOML");
    public static readonly DiagnosticCode VcsRepositoryOutsideProject = new(2030, "A local VCS repository is outside the project folder");
    public static readonly DiagnosticCode VcsRepositoryMissing = new(2031, "A local VCS repository named in the requirements does not exist");
    public static readonly DiagnosticCode ProjectLayoutAmbiguous = new(2035, "Both .whiskey and .docker hold action_hooks, user_vars or server_args");
    public static readonly DiagnosticCode ServerOptionRejected = new(2036, "The launcher refused a server option at build time");
    public static readonly DiagnosticCode DependencyFileInvalid = new(2015, "A pyproject.toml or lock file cannot be read");
    public static readonly DiagnosticCode DependencyGroupUnknown = new(2016, "A WsgiDependencyGroups name is not in the lock file or pyproject.toml");
    public static readonly DiagnosticCode LockedPackageNotHashed = new(2017, "A lock file names a package that cannot be installed by hash");
    public static readonly DiagnosticCode NamedLockMissing = new(2040, "WsgiLockName names a pylock.NAME.toml the project does not have");
    public static readonly DiagnosticCode NamedLockAmbiguous = new(2041, "Several pylock.NAME.toml files and no choice between them");
    public static readonly DiagnosticCode SpecialFileSkipped = new(2070, "A FIFO, socket or device in the project folder was left out of the image");
    public static readonly DiagnosticCode FileNameNotUtf8 = new(2071, "A file name in the project folder is not valid UTF-8");
    public static readonly DiagnosticCode RequirementsFileUnreadable = new(2072, "A requirements file is not a regular file of a sane size");
    public static readonly DiagnosticCode InputIgnored = new(2073, ".dockerignore leaves out a file the build needs");
    public static readonly DiagnosticCode HookHasWindowsLineEndings = new(2074, "An action hook has Windows (CRLF) line endings");
    public static readonly DiagnosticCode SetIdBitsDropped = new(2075, "Setuid/setgid bits were dropped from the application layer");
    public static readonly DiagnosticCode InvalidGracefulStopTimeout = new(2050, "WsgiGracefulStopTimeout is not a whole number of seconds from 1");
    public static readonly DiagnosticCode HealthCheckInvalid = new(2055, "A WsgiHealthCheck setting is malformed");
    public static readonly DiagnosticCode DjangoSettingsUnreadable = new(5003, "The Django settings could not be read in the build");

    // 3xxx engine and tools
    public static readonly DiagnosticCode EngineUnreachable = new(3001, "No container engine answers");
    public static readonly DiagnosticCode BaseImageMissing = new(3002, "The base image is not in the local engine");
    public static readonly DiagnosticCode EngineRequestFailed = new(3003, "The container engine rejected a request");
    public static readonly DiagnosticCode InvalidEngineEndpoint = new(3004, "DOCKER_HOST is not a supported endpoint");
    public static readonly DiagnosticCode ImageNotFound = new(3005, "The engine has no image of that name");
    public static readonly DiagnosticCode DockerCliMissing = new(3006, "The docker CLI is not installed");
    public static readonly DiagnosticCode EngineApiVersionUnsupported = new(3007, "The container engine speaks no Engine API version ModWsgi speaks");
    public static readonly DiagnosticCode EngineTimedOut = new(3008, "The container engine did not answer in time");
    public static readonly DiagnosticCode EngineTlsFailed = new(3010, "The TLS connection to the engine failed");
    public static readonly DiagnosticCode EngineTlsFilesInvalid = new(3011, "The engine's TLS certificate files are missing or unreadable");
    public static readonly DiagnosticCode EngineExpectsTls = new(3012, "The engine speaks TLS but the client was not told to");
    public static readonly DiagnosticCode DockerContextInvalid = new(3013, "The docker context is unknown or unreadable");
    public static readonly DiagnosticCode EngineSshFailed = new(3014, "The ssh connection to the engine failed");
    public static readonly DiagnosticCode NotAContainerEngine = new(3015, "The engine endpoint answers, but not as a container engine");
    public static readonly DiagnosticCode PodmanSocketMissing = new(3016, "LocalRegistry=Podman found no Podman socket");
    public static readonly DiagnosticCode CacheSizeInvalid = new(3020, "WsgiCacheSizeLimit (or prune's --max-size) is not a size");
    public static readonly DiagnosticCode CacheBusy = new(3021, "The build cache is held by a running build or prune");
    public static readonly DiagnosticCode RegistryUnavailable = new(3030, "The registry kept failing (5xx or 429) after every retry");
    public static readonly DiagnosticCode RegistryDigestMismatch = new(3031, "The registry reports another digest than the content sent");
    public static readonly DiagnosticCode RegistryUploadInconsistent = new(3032, "The registry reports holding another part of an upload than was sent");

    // 4xxx task plumbing
    public static readonly DiagnosticCode UnexpectedFailure = new(4001, "An unexpected internal error");
    public static readonly DiagnosticCode BuildCancelled = new(4002, "The build was cancelled");
    public static readonly DiagnosticCode BuildServerUntrusted = new(4003, "The build server's folder or process is not yours alone");
    public static readonly DiagnosticCode CacheBlobDamaged = new(4010, "A build cache blob does not match its digest (damaged on disk)");
    public static readonly DiagnosticCode DiskFull = new(4011, "The disk the build writes to (the build cache, the archive) is full");
    public static readonly DiagnosticCode CacheLockTimedOut = new(4012, "Another build of the same dependencies held them too long");

    // 5xxx Python, pip and hooks
    public static readonly DiagnosticCode BuildStepFailed = new(5001, "A build step exited non-zero");
    public static readonly DiagnosticCode VcsToolInstallFailed = new(5002, "A version-control tool could not be installed");
    public static readonly DiagnosticCode MetadataNeedsSource = new(5004, "A self-installing project's dependencies could not be read from its metadata files alone");
    public static readonly DiagnosticCode LockHashMismatch = new(5005, "A locked package's hash does not match what the index serves");

    /// <summary>Every code above, for the uniqueness test and the README table.</summary>
    public static IReadOnlyList<DiagnosticCode> All { get; } =
        typeof(DiagnosticCodes).GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
            .Where(f => f.FieldType == typeof(DiagnosticCode))
            .Select(f => (DiagnosticCode)f.GetValue(null)!)
            .ToArray();
}
