// The JS `RingFile` class: a ring file's descriptor (role locks, msync) plus the SharedArrayBuffer
// over its mapping.
#ifndef SHMRING_ADDON_RING_FILE_WRAP_H
#define SHMRING_ADDON_RING_FILE_WRAP_H

#include <napi.h>

#include "boundary.h"
#include "shmring/ring_file.h"

namespace shmring::addon {

class RingFileWrap : public Napi::ObjectWrap<RingFileWrap> {
 public:
  static Napi::Function DefineClass(Napi::Env env);
  // Wraps an open ring file; the mapping passes to the SharedArrayBuffer it creates.
  static Napi::Object NewInstance(Napi::Env env, shmring::RingFile file);

  explicit RingFileWrap(const Napi::CallbackInfo& info);
  // Collected without close(): closes the descriptor (role locks go with it) and stops counting
  // the mapping as external memory; the mapping itself stays while JS holds the buffer.
  ~RingFileWrap() override;

 private:
  // A method behind the boundary (boundary.h), in the form InstanceMethod<> takes:
  // InstanceMethod<&RingFileWrap::Guarded<&RingFileWrap::Flush>>("flush").
  template <auto Method>
  auto Guarded(const Napi::CallbackInfo& info) -> decltype((this->*Method)(info)) {
    return CallAtBoundary(info.Env(), [&] { return (this->*Method)(info); });
  }

  Napi::Value Buffer(const Napi::CallbackInfo& info);
  Napi::Value Path(const Napi::CallbackInfo& info);
  Napi::Value Size(const Napi::CallbackInfo& info);
  Napi::Value Fd(const Napi::CallbackInfo& info);
  void LockRole(const Napi::CallbackInfo& info);
  void UnlockRole(const Napi::CallbackInfo& info);
  Napi::Value RoleHeld(const Napi::CallbackInfo& info);
  void Flush(const Napi::CallbackInfo& info);
  void Prefault(const Napi::CallbackInfo& info);
  void Close(const Napi::CallbackInfo& info);
  Napi::Value Seals(const Napi::CallbackInfo& info);
  // RingFile.createAnonymous(capacity, maxRecordLength): a sealed memfd ring.
  static Napi::Value CreateAnonymous(const Napi::CallbackInfo& info);
  // RingFile.openFd(fd): the ring behind a descriptor this process holds, reopened.
  static Napi::Value OpenFd(const Napi::CallbackInfo& info);

  void ThrowIfClosed(Napi::Env env, const char* operation) const;

  // Gives the mapping's size back to V8's external-memory count, once (close or collection).
  void StopCountingExternalMemory(napi_env env);

  // The descriptor and path. Its mapping was released to the SharedArrayBuffer: this object never
  // unmaps, and if it is collected without close() its destructor still unlocks and closes the fd.
  shmring::RingFile file_;
  // Strong until close(): while open, `buffer` is always there and flush() may touch the mapping.
  // close() swaps the file's pages for zero pages (shmring::release_pages); the address range
  // lives as long as JS references to the buffer (it is unmapped when they are collected).
  Napi::Reference<Napi::Value> buffer_;
  bool closed_ = false;
  // The mapping's size, added to V8's external memory while this object holds the file mapped: V8
  // does not count a SharedArrayBuffer over outside memory, and without it a process dropping ring
  // files without close() is not pushed towards the collection that would unmap them.
  int64_t counted_external_bytes_ = 0;
};

}  // namespace shmring::addon

#endif  // SHMRING_ADDON_RING_FILE_WRAP_H
