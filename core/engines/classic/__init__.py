"""The classic engine: speech- or guide-driven mouth motion painted with the actor's own pixels.

Video Rewrite's idea with a dense face mesh: a motion plan of the lower face per output frame
(`motion`, from `guide_driver` or `speech_driver`), the actor's reference mouths chosen along a
temporally coherent path (`retrieval`), warped piecewise-affinely onto the plan (`warp`, `render`)
and composited in the source's pixel format. No trained weights; everything is learned from the
actor's footage (`profile`). Importing this package imports nothing heavy; the engine class lives
in `mytalk.core.engines.classic.engine`.
"""
