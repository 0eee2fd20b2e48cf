namespace RefQsr.Engine.Inference;

/// <summary>How far an upscale is: <see cref="PatchesDone"/> of <see cref="PatchesTotal"/>
/// patches finished (a RefQSR run counts references and queries alike).</summary>
public readonly record struct UpscaleProgress(int PatchesDone, int PatchesTotal);
