/** A resolved container target: where its network namespace is, and who it is. */
export interface Target {
  /** How the user named it, for messages: "pid:1234", "docker:nginx", "netns:blue". */
  display: string;
  /** Which resolver produced it. */
  kind: 'pid' | 'netns' | 'path' | 'docker' | 'podman' | 'containerd';
  /** A path to the namespace file that stays valid while the container lives. */
  nsPath: string;
  /** device:inode of the namespace file (kernel/ip.ts netnsId). */
  nsId: string;
  /** PID of a process in the namespace, when there is one. */
  pid?: number;
  /** Runtime identity when a runtime resolved it. */
  runtime?: { name: 'docker' | 'podman' | 'containerd'; id: string; containerName: string; namespace?: string };
}
