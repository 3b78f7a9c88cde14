"""What checkers may know about a run besides its history: its manifest, as typed fields."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.client.config import LATEST_VERSION
from harness.run.directory import RunManifest
from harness.target_profile import ACTIONS
from scenarios.registry import STATELESS, ramp_seconds

# The reference server's tool for each scenario action (harness/targets/reference-server.yaml).
REFERENCE_TOOLS = {"touch": "touch_resource"}


@dataclass(frozen=True)
class CheckContext:
    store: str = "redis"  # "memory": losses of a killed node's sessions are expected (G7)
    backend: str = "local"
    scenario: str = ""
    defects: tuple[str, ...] = ()
    untested_actions: tuple[str, ...] = ()  # actions the target profile lacks
    duration: float = 0.0
    tools: tuple[tuple[str, str], ...] = ()  # (action, the target's tool)
    ramp: float = 0.0  # seconds from the run's start until the load shape is at full load
    protocol: str = LATEST_VERSION  # the revision the load client spoke (--protocol)
    # The reference server (no target profile) promises single-use requestStates; of another
    # server the spec asks it only for one-time operations (mrtr.mdx), so a reuse is a finding.
    single_use_states: bool = True

    @property
    def sessionless(self) -> bool:
        """2026-07-28: no initialize and no sessions, so nothing to judge per session."""
        return self.protocol == STATELESS

    def tool_f(self, action: str) -> str:
        """The history's ``f`` for an action's call: ``call:<the target's tool>``."""
        for name, tool in self.tools:
            if name == action:
                return f"call:{tool}"
        return f"call:{REFERENCE_TOOLS.get(action, action)}"

    @classmethod
    def from_manifest(cls, manifest: RunManifest | None) -> CheckContext:
        if manifest is None:
            return cls()
        actions = manifest.actions.get("actions", {})
        return cls(
            store=manifest.store,
            backend=manifest.backend,
            scenario=manifest.scenario,
            defects=tuple(manifest.defects),
            untested_actions=tuple(a for a in ACTIONS if actions and a not in actions),
            duration=manifest.duration,
            tools=tuple(
                (name, str(spec["tool"]))
                for name, spec in actions.items()
                if isinstance(spec, dict) and "tool" in spec
            ),
            ramp=ramp_seconds(
                manifest.shape, manifest.duration, max(1, manifest.users), manifest.spawn_rate
            ),
            protocol=manifest.protocol,
            single_use_states=manifest.target_profile is None,
        )

    @classmethod
    def from_run_dir(cls, run_dir: Path | str) -> CheckContext:
        """From the manifest a run wrote (defaults when it wrote none)."""
        return cls.from_manifest(RunManifest.read(run_dir))
