using Microsoft.Extensions.Logging;
using ModWsgi.Core.Cache;
using ModWsgi.Core.Engine;
using ModWsgi.Core.Layers;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Pipeline;
using ModWsgi.Core.Project;
using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Destinations;

/// <summary>The complete OCI image of a built one: registries and archives need the base layers as blobs too.</summary>
public sealed class OciImageAssembler(IContainerEngine engine, BuildCache cache, ILogger logger)
{
    public async Task<OciImage> AssembleAsync(BuiltImage image, CancellationToken cancellationToken)
    {
        if (cache.FindBaseLayers(image.Base.Id) is null)
            logger.LogInformation(" -----> Exporting base image layers of {Base} (once per base image)", image.Base.Name);
        var baseLayers = await BaseLayerExporter.EnsureAsync(engine, image.Base, cache, cancellationToken).ConfigureAwait(false);
        cache.Blobs.Put(image.ConfigBytes);
        return OciImage.Of(image.ConfigBytes, [.. baseLayers, .. image.Added.Select(a => a.Layer)]);
    }
}
