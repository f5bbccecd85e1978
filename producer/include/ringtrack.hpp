/*
 * ringtrack.hpp: a small header-only C++17 wrapper over ringtrack.h.
 *
 *   ringtrack::settings s;
 *   s.project = "mnist";
 *   ringtrack::run run(s);                       // throws ringtrack::error
 *   auto loss = run.resolve("train/loss");       // once, before the loop
 *   for (...) run.log({loss}, {value});          // the hot path
 *   run.summary("best_loss", best);
 *   auto report = run.finish();
 *
 * Errors: every call that fails throws ringtrack::error, which carries the
 * ringtrack_status and the message of ringtrack_last_error(). Destructors
 * never throw.
 *
 * Ownership: ringtrack::run owns its ringtrack_run handle (move-only). Its
 * destructor finishes a run that was not finished, with exit code 1 when it
 * runs because an exception is propagating and 0 otherwise, then frees the
 * handle. ringtrack_metric handles are plain values.
 *
 * Threads: as for the C handle. A run is used by one thread at a time
 * (overlapping calls throw with RINGTRACK_ERR_BUSY) unless settings::shared
 * is set.
 *
 * Names are std::string_view; they are copied into a NUL-terminated buffer
 * for the C call (on the stack for names, which are at most 255 bytes).
 */
#ifndef RINGTRACK_HPP
#define RINGTRACK_HPP

#include <chrono>
#include <cstdint>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "ringtrack.h"

namespace ringtrack {

/// What every failing call throws.
class error : public std::runtime_error {
public:
    error(ringtrack_status status, const std::string &message)
        : std::runtime_error(message), status_(status) {}

    /// The C status code.
    ringtrack_status status() const noexcept { return status_; }

    /// The code's name, such as "RINGTRACK_ERR_FINISHED".
    const char *status_name() const noexcept {
        return ringtrack_status_name(static_cast<int>(status_));
    }

private:
    ringtrack_status status_;
};

namespace detail {

inline void check(ringtrack_status status) {
    if (status != RINGTRACK_OK) {
        throw error(status, ringtrack_last_error());
    }
}

/// A name copied into a NUL-terminated stack buffer.
class c_name {
public:
    explicit c_name(std::string_view name) {
        if (name.size() > RINGTRACK_MAX_NAME_LEN) {
            throw error(RINGTRACK_ERR_BAD_STRING,
                        "name \"" + std::string(name.substr(0, 60)) +
                            "...\" is longer than 255 bytes");
        }
        if (name.find('\0') != std::string_view::npos) {
            throw error(RINGTRACK_ERR_BAD_STRING,
                        "name holds a NUL byte");
        }
        std::memcpy(buf_, name.data(), name.size());
        buf_[name.size()] = '\0';
    }
    const char *get() const noexcept { return buf_; }

private:
    char buf_[RINGTRACK_MAX_NAME_LEN + 1];
};

/// Longer text (config JSON, text values), copied to the heap.
inline std::string c_text(std::string_view text) {
    if (text.find('\0') != std::string_view::npos) {
        throw error(RINGTRACK_ERR_BAD_STRING, "text holds a NUL byte");
    }
    return std::string(text);
}

inline const char *or_null(const std::string &text) {
    return text.empty() ? nullptr : text.c_str();
}

}  // namespace detail

using metric = ringtrack_metric;
using counters = ringtrack_counters;
using finish_report = ringtrack_finish_report;

/// How to start a run; an empty string means "from the environment, else
/// the default", as for ringtrack_settings.
struct settings {
    std::string project;
    std::string run_name;
    std::string root;
    std::string mode;
    std::string config_json;
    std::string service_dir;
    std::string ring_dir;
    std::string service_bin;
    std::uint64_t ring_capacity = 0;
    std::chrono::milliseconds full_wait{2000};
    std::chrono::milliseconds finish_timeout{60000};
    /// Allow calls from several threads at once (RINGTRACK_SHARED).
    bool shared = false;
};

/// A run: owns a ringtrack_run handle from construction to destruction.
class run {
public:
    explicit run(const settings &s) : uncaught_(std::uncaught_exceptions()) {
        ringtrack_settings c;
        detail::check(ringtrack_settings_default(&c));
        c.project = s.project.c_str();
        c.run_name = detail::or_null(s.run_name);
        c.root = detail::or_null(s.root);
        c.mode = detail::or_null(s.mode);
        c.config_json = detail::or_null(s.config_json);
        c.service_dir = detail::or_null(s.service_dir);
        c.ring_dir = detail::or_null(s.ring_dir);
        c.service_bin = detail::or_null(s.service_bin);
        c.ring_capacity = s.ring_capacity;
        c.full_wait_ms = static_cast<std::uint32_t>(s.full_wait.count());
        c.finish_timeout_ms =
            static_cast<std::uint32_t>(s.finish_timeout.count());
        c.flags = s.shared ? RINGTRACK_SHARED : 0;
        detail::check(ringtrack_init(&c, &handle_));
    }

    run(const run &) = delete;
    run &operator=(const run &) = delete;
    run(run &&other) noexcept
        : handle_(std::exchange(other.handle_, nullptr)),
          uncaught_(other.uncaught_) {}
    run &operator=(run &&other) noexcept {
        if (this != &other) {
            close();
            handle_ = std::exchange(other.handle_, nullptr);
            uncaught_ = other.uncaught_;
        }
        return *this;
    }

    /// Finishes an unfinished run (exit code 1 while an exception
    /// propagates, else 0), ignoring errors, and frees the handle.
    ~run() { close(); }

    /// Resolves a metric name once, for the hot path.
    metric resolve(std::string_view name) {
        metric m{};
        detail::check(
            ringtrack_resolve_metric(handle_, detail::c_name(name).get(), &m));
        return m;
    }

    /// Logs a row at the next automatic step and returns the step.
    std::uint64_t log(const metric *metrics, const double *values,
                      std::size_t count) {
        std::uint64_t step = 0;
        detail::check(
            ringtrack_log(handle_, metrics, count, values, count, &step));
        return step;
    }

    /// Logs a row at the next automatic step; the two lists pair up and
    /// must have the same length.
    std::uint64_t log(std::initializer_list<metric> metrics,
                      std::initializer_list<double> values) {
        std::uint64_t step = 0;
        detail::check(ringtrack_log(handle_, metrics.begin(), metrics.size(),
                                    values.begin(), values.size(), &step));
        return step;
    }

    /// Logs a row at `step`.
    void log_at(std::uint64_t step, const metric *metrics,
                const double *values, std::size_t count) {
        detail::check(
            ringtrack_log_at(handle_, step, metrics, count, values, count));
    }

    /// Logs a row at `step`; the two lists must have the same length.
    void log_at(std::uint64_t step, std::initializer_list<metric> metrics,
                std::initializer_list<double> values) {
        detail::check(ringtrack_log_at(handle_, step, metrics.begin(),
                                       metrics.size(), values.begin(),
                                       values.size()));
    }

    /// Logs a row of named floats at the next automatic step (slower than
    /// handles: for occasional rows).
    std::uint64_t log_named(
        std::initializer_list<std::pair<std::string_view, double>> row) {
        std::vector<std::string> names;
        std::vector<const char *> name_ptrs;
        std::vector<ringtrack_value> values;
        names.reserve(row.size());
        for (const auto &entry : row) {
            names.push_back(detail::c_text(entry.first));
            ringtrack_value v{};
            v.kind = RINGTRACK_VALUE_F64;
            v.f64 = entry.second;
            values.push_back(v);
        }
        for (const auto &name : names) {
            name_ptrs.push_back(name.c_str());
        }
        std::uint64_t step = 0;
        detail::check(ringtrack_log_named(handle_, name_ptrs.data(),
                                          name_ptrs.size(), values.data(),
                                          values.size(), &step));
        return step;
    }

    /// Sets a float summary value.
    void summary(std::string_view key, double value) {
        detail::check(
            ringtrack_summary_f64(handle_, detail::c_name(key).get(), value));
    }

    /// Sets an integer summary value.
    template <class T, std::enable_if_t<std::is_integral_v<T>, int> = 0>
    void summary(std::string_view key, T value) {
        ringtrack_value v{};
        v.kind = RINGTRACK_VALUE_I64;
        v.i64 = static_cast<std::int64_t>(value);
        detail::check(
            ringtrack_summary(handle_, detail::c_name(key).get(), &v));
    }

    /// Sets a text summary value.
    void summary(std::string_view key, std::string_view text) {
        std::string owned = detail::c_text(text);
        ringtrack_value v{};
        v.kind = RINGTRACK_VALUE_TEXT;
        v.text = owned.c_str();
        detail::check(
            ringtrack_summary(handle_, detail::c_name(key).get(), &v));
    }

    /// Sets config entries from a JSON object.
    void config_json(std::string_view json) {
        detail::check(
            ringtrack_config_json(handle_, detail::c_text(json).c_str()));
    }

    /// The run's counters.
    counters read_counters() {
        counters c{};
        detail::check(ringtrack_run_counters(handle_, &c));
        return c;
    }

    /// Finishes the run; a negative timeout uses the settings' one.
    finish_report finish(int exit_code = 0,
                         std::chrono::milliseconds timeout =
                             std::chrono::milliseconds(-1)) {
        finish_report report{};
        detail::check(ringtrack_finish(handle_, exit_code, timeout.count(),
                                       &report));
        return report;
    }

    /// The run id ("" for a disabled run).
    std::string_view id() const { return text(ringtrack_run_id(handle_)); }

    /// The run directory ("" for a disabled run).
    std::string_view dir() const { return text(ringtrack_run_dir(handle_)); }

    /// The C handle, for calls the wrapper does not cover; still owned by
    /// this object.
    ringtrack_run *handle() const noexcept { return handle_; }

private:
    static std::string_view text(const char *p) {
        if (p == nullptr) {
            throw error(RINGTRACK_ERR_NULL_POINTER, ringtrack_last_error());
        }
        return std::string_view(p);
    }

    void close() noexcept {
        if (handle_ == nullptr) {
            return;
        }
        int code = std::uncaught_exceptions() > uncaught_ ? 1 : 0;
        // RINGTRACK_ERR_FINISHED when finish() was called: nothing to do.
        (void)ringtrack_finish(handle_, code, -1, nullptr);
        (void)ringtrack_run_free(handle_);
        handle_ = nullptr;
    }

    ringtrack_run *handle_ = nullptr;
    int uncaught_ = 0;
};

}  // namespace ringtrack

#endif  // RINGTRACK_HPP
