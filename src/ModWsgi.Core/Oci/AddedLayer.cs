namespace ModWsgi.Core.Oci;

/// <summary>A layer the image adds on top of its base, with the history line that describes it.</summary>
public sealed record AddedLayer(Layer Layer, string CreatedBy);
