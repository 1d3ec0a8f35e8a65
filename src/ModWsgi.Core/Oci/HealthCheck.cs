using System.Globalization;
using System.Text.RegularExpressions;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Settings;

namespace ModWsgi.Core.Oci;

/// <summary>
/// The image's HEALTHCHECK (the config's <c>Healthcheck</c>, which Docker reads from any image config; the OCI spec
/// has no field for it and Podman keeps it only for docker-format images). <see cref="Test"/> is Docker's form:
/// <c>["CMD", program, args...]</c> or <c>["CMD-SHELL", command line]</c>.
/// </summary>
public sealed record HealthCheck(IReadOnlyList<string> Test, TimeSpan Interval, TimeSpan Timeout, TimeSpan StartPeriod, int Retries)
{
    /// <summary>The value of <see cref="SettingsTable.WsgiHealthCheck"/> that leaves the image without a HEALTHCHECK.</summary>
    public const string None = "none";

    /// <summary>The probe the runtime layer ships (sdk/ModWsgi.Sdk/runtime/mod_wsgi-docker-probe).</summary>
    public const string Probe = "mod_wsgi-docker-probe";

    // Words that mean the same to a shell and to exec: anything else (quotes, $, |, ;, spaces in an argument) needs /bin/sh.
    private static readonly Regex PlainWord = new("^[A-Za-z0-9_./:=,@%+-]+$", RegexOptions.CultureInvariant);

    // Docker's own duration syntax (docker run --health-interval 1m30s): numbers with h, m, s, ms, us or ns units.
    private static readonly Regex DurationPart = new(@"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)", RegexOptions.CultureInvariant);

    /// <summary>
    /// The health check the settings describe, null for <c>none</c>. A command of plain words runs as given (exec form,
    /// no shell); any other command line runs through <c>/bin/sh -c</c>. Malformed values are MODWSGI2055.
    /// </summary>
    public static HealthCheck? From(string? command, string? interval, string? timeout, string? startPeriod, string? retries)
    {
        var text = Value(command, SettingsTable.WsgiHealthCheck);
        if (string.Equals(text, None, StringComparison.OrdinalIgnoreCase))
            return null;
        var words = text.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        IReadOnlyList<string> test = words.All(PlainWord.IsMatch) ? ["CMD", .. words] : ["CMD-SHELL", text];
        return new HealthCheck(test,
            Duration(SettingsTable.WsgiHealthCheckInterval, interval, allowZero: false),
            Duration(SettingsTable.WsgiHealthCheckTimeout, timeout, allowZero: false),
            Duration(SettingsTable.WsgiHealthCheckStartPeriod, startPeriod, allowZero: true),
            RetryCount(retries));
    }

    private static string Value(string? text, Setting setting) =>
        string.IsNullOrWhiteSpace(text) ? setting.Default! : text.Trim();

    private static int RetryCount(string? text)
    {
        var value = Value(text, SettingsTable.WsgiHealthCheckRetries);
        return int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var retries) && retries >= 1
            ? retries
            : throw Invalid(SettingsTable.WsgiHealthCheckRetries, value, "a whole number of at least 1 (failures in a row before the container is unhealthy)", "3");
    }

    /// <summary>Docker's duration syntax (<c>10s</c>, <c>1m30s</c>, <c>500ms</c>), or a bare number of seconds.</summary>
    public static TimeSpan Duration(Setting setting, string? text, bool allowZero)
    {
        var value = Value(text, setting);
        TimeSpan? result = null;
        if (double.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds))
            result = TimeSpan.FromSeconds(seconds);
        else
        {
            var matches = DurationPart.Matches(value);
            if (matches.Count > 0 && string.Concat(matches.Select(m => m.Value)) == value)
                result = matches.Aggregate(TimeSpan.Zero, (sum, m) => sum + Unit(double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), m.Groups[2].Value));
        }
        // Docker refuses an interval or timeout under 1 ms (0 there means "the default", never "no time").
        if (result is not { } duration || (allowZero ? duration < TimeSpan.Zero : duration < TimeSpan.FromMilliseconds(1)))
            throw Invalid(setting, value, allowZero ? "a duration such as 30s, 1m30s or 0s" : "a duration of at least 1ms, such as 10s, 1m30s or 500ms", setting.Default!);
        return duration;
    }

    private static TimeSpan Unit(double number, string unit) => unit switch
    {
        "h" => TimeSpan.FromHours(number),
        "m" => TimeSpan.FromMinutes(number),
        "s" => TimeSpan.FromSeconds(number),
        "ms" => TimeSpan.FromMilliseconds(number),
        "us" or "µs" => TimeSpan.FromMicroseconds(number),
        _ => TimeSpan.FromTicks((long)(number / 100)),
    };

    private static ModWsgiException Invalid(Setting setting, string value, string expected, string example) =>
        new(DiagnosticCodes.HealthCheckInvalid,
            $"{setting.Name} '{value}' is not {expected}: set e.g. <{setting.Name}>{example}</{setting.Name}> (modwsgi: {setting.CliOption} {example}), "
            + $"or remove it for the default ({setting.Default}). <{SettingsTable.WsgiHealthCheck.Name}>none</{SettingsTable.WsgiHealthCheck.Name}> leaves the image without a HEALTHCHECK.");
}
