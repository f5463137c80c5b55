"""`--engine mytalk`: the two-stage neural method of "Make Your Actor Talk" (arXiv 2406.08096).

Stage 1 (motion) turns speech into mouth and jaw landmarks with a partially noised landmark
diffusion model; stage 2 (appearance) renders the mouth region from those landmarks, reference
lips of the same actor and the frame with its mouth masked out. Both stages are trainable on the
user's own footage (`mytalk dataset build`, `mytalk train`, `mytalk actor build --engine mytalk`).

Modules, diffusers-style (networks, schedules and loops kept apart):

- models: `audio_encoder` (log-mel + encoder), `id_extractor`, `conformer`, `denoiser`
  (`LandmarkDenoiser`), `motion` (`MotionModel`, the stage-1 bundle), `appearance`
  (`AppearanceGenerator`), `discriminator` (`PatchDiscriminator`);
- schedules: `scheduler` (`DDIMScheduler`), `noising` (partial noising);
- loops: `pipeline` (`SpeechToLandmarkPipeline`), `train` (what each stage trains), `trainer` (the
  loop both share), `finetune`;
- training parts: `builders` (networks from config), `batches`, `objectives` (each stage's loss),
  `seeding`, `lr_schedule`, `runlog` (log and loss plot); the device is `mytalk.core.engines.devices`;
- data: `landmarks` (point sets, crop geometry), `rasterize`, `dataset`, `references`;
- storage: `config` (TOML presets), `checkpoint` (safetensors only).

Importing this package imports nothing heavy: torch is imported by the submodules that need it.
"""
