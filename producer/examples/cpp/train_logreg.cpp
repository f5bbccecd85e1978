// Trains logistic regression on the Wisconsin breast-cancer data set (569
// rows, 30 features, label 0 = malignant, 1 = benign) with full-batch
// gradient descent and logs every step through ringtrack.hpp, the C++
// wrapper of the C ABI. It is the C++ twin of examples/train.rs: every 5th
// row (index 4, 9, 14, ...) is held out for validation, features are
// standardised with training statistics, the weights carry an L2 penalty
// and the learning rate is fixed. Each step logs train/loss,
// train/accuracy, val/loss, val/accuracy, grad_norm and lr; the losses are
// the mean cross-entropy before that step's update, without the L2 term.
//
// Build (from the repository root, after `cargo build -p ringtrack`):
//
//   g++ -std=c++17 -O2 -Wall -Wextra -Iproducer/include
//       producer/examples/cpp/train_logreg.cpp -o train_logreg
//       -Ltarget/debug -lringtrack -Wl,-rpath,$PWD/target/debug
//
// (one command, split here over three lines).
//
// Run: `./train_logreg [path/to/breast_cancer.csv]`. The data set is the
// first argument, else RINGTRACK_DATASET, else
// ../shared/data/datasets/breast_cancer.csv (relative to the repository
// root). RINGTRACK_EPOCHS sets the number of steps (default 300). The SDK
// reads RINGTRACK_DIR and the other RINGTRACK_* variables as usual.
//
// Output: one `row STEP v1 v2 v3 v4 v5 v6` line per step with the six
// values in the order above, printed with 17 significant digits (which
// round-trip a double exactly), then `run ID DIR` and a summary. Exit code
// 2 for bad input (data set, environment), 1 for an SDK failure.

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "ringtrack.hpp"

namespace {

constexpr const char *kDefaultDataset =
    "../shared/data/datasets/breast_cancer.csv";
constexpr std::uint64_t kDefaultEpochs = 300;
constexpr double kLr = 0.1;
constexpr double kL2 = 1e-3;
constexpr std::size_t kValEvery = 5;

struct Sample {
    std::vector<double> x;
    double y;
};

// Logistic regression weights; also holds a gradient.
struct Model {
    std::vector<double> w;
    double b = 0.0;
    explicit Model(std::size_t dim) : w(dim, 0.0) {}
};

// Bad input: a message for the user and exit code 2.
struct BadInput {
    std::string message;
};

std::string dataset_path(int argc, char **argv) {
    if (argc > 1) {
        return argv[1];
    }
    const char *env = std::getenv("RINGTRACK_DATASET");
    return env != nullptr && *env != '\0' ? env : kDefaultDataset;
}

std::uint64_t epochs() {
    const char *raw = std::getenv("RINGTRACK_EPOCHS");
    if (raw == nullptr) {
        return kDefaultEpochs;
    }
    char *end = nullptr;
    unsigned long long n = std::strtoull(raw, &end, 10);
    if (end == raw || *end != '\0' || n == 0) {
        throw BadInput{std::string("RINGTRACK_EPOCHS=\"") + raw +
                       "\": expected a number >= 1"};
    }
    return n;
}

std::vector<std::string> split_fields(const std::string &line) {
    std::vector<std::string> fields;
    std::stringstream in(line);
    std::string field;
    while (std::getline(in, field, ',')) {
        auto first = field.find_first_not_of(" \t\r");
        auto last = field.find_last_not_of(" \t\r");
        fields.push_back(first == std::string::npos
                             ? std::string()
                             : field.substr(first, last - first + 1));
    }
    return fields;
}

bool parse_number(const std::string &text, double &out) {
    if (text.empty()) {
        return false;
    }
    char *end = nullptr;
    out = std::strtod(text.c_str(), &end);
    return *end == '\0' && std::isfinite(out);
}

// The CSV: a header `rows,features,name0,name1`, then one row per line of
// `features` numbers and a 0/1 label.
std::vector<Sample> load(const std::string &path) {
    std::ifstream file(path);
    if (!file) {
        throw BadInput{"cannot read data set " + path};
    }
    auto bad = [&](std::size_t line, const std::string &msg) {
        return BadInput{path + ":" + std::to_string(line) + ": " + msg};
    };
    std::string line;
    std::size_t at = 0;
    std::size_t rows = 0, dim = 0;
    while (std::getline(file, line)) {
        ++at;
        if (line.find_first_not_of(" \t\r") == std::string::npos) {
            continue;
        }
        auto head = split_fields(line);
        double r = 0, d = 0;
        if (head.size() != 4 || !parse_number(head[0], r) ||
            !parse_number(head[1], d) || r < 1 || d < 1) {
            throw bad(at, "expected `rows,features,name0,name1`");
        }
        rows = static_cast<std::size_t>(r);
        dim = static_cast<std::size_t>(d);
        break;
    }
    if (rows == 0) {
        throw bad(at, "no header");
    }
    std::size_t header_at = at;
    std::vector<Sample> data;
    while (std::getline(file, line)) {
        ++at;
        if (line.find_first_not_of(" \t\r") == std::string::npos) {
            continue;
        }
        auto fields = split_fields(line);
        if (fields.size() != dim + 1) {
            throw bad(at, "expected " + std::to_string(dim + 1) +
                              " fields, found " +
                              std::to_string(fields.size()));
        }
        Sample s{std::vector<double>(dim), 0.0};
        for (std::size_t c = 0; c < dim; ++c) {
            if (!parse_number(fields[c], s.x[c])) {
                throw bad(at, "field " + std::to_string(c + 1) + ": \"" +
                                  fields[c] + "\" is not a number");
            }
        }
        if (fields[dim] == "0") {
            s.y = 0.0;
        } else if (fields[dim] == "1") {
            s.y = 1.0;
        } else {
            throw bad(at, "label \"" + fields[dim] + "\" is not 0 or 1");
        }
        data.push_back(std::move(s));
    }
    if (data.size() != rows) {
        throw bad(header_at, "header says " + std::to_string(rows) +
                                 " rows, found " +
                                 std::to_string(data.size()));
    }
    if (rows < kValEvery) {
        throw bad(header_at, "too few rows to hold out validation");
    }
    return data;
}

void standardise(std::vector<Sample> &train, std::vector<Sample> &val) {
    const double n = static_cast<double>(train.size());
    const std::size_t dim = train[0].x.size();
    std::vector<double> mean(dim, 0.0), scale(dim, 0.0);
    for (const auto &s : train) {
        for (std::size_t j = 0; j < dim; ++j) {
            mean[j] += s.x[j] / n;
        }
    }
    for (const auto &s : train) {
        for (std::size_t j = 0; j < dim; ++j) {
            scale[j] += (s.x[j] - mean[j]) * (s.x[j] - mean[j]) / n;
        }
    }
    for (auto &sd : scale) {
        // A constant feature would divide by zero; leave its scale alone.
        sd = sd > 0.0 ? std::sqrt(sd) : 1.0;
    }
    for (auto *set : {&train, &val}) {
        for (auto &s : *set) {
            for (std::size_t j = 0; j < dim; ++j) {
                s.x[j] = (s.x[j] - mean[j]) / scale[j];
            }
        }
    }
}

double logit(const Model &m, const std::vector<double> &x) {
    double z = 0.0;
    for (std::size_t j = 0; j < x.size(); ++j) {
        z += m.w[j] * x[j];
    }
    return m.b + z;
}

double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

// Cross-entropy of label y given logit z, stable for large |z|.
double cross_entropy(double z, double y) {
    return std::max(z, 0.0) - z * y + std::log1p(std::exp(-std::fabs(z)));
}

double loss(const Model &m, const std::vector<Sample> &data) {
    double total = 0.0;
    for (const auto &s : data) {
        total += cross_entropy(logit(m, s.x), s.y);
    }
    return total / static_cast<double>(data.size());
}

// Mean cross-entropy; writes the gradient of (mean cross-entropy + l2/2 *
// |w|^2) into grad.
double loss_and_grad(const Model &m, const std::vector<Sample> &data,
                     Model &grad) {
    const double n = static_cast<double>(data.size());
    for (std::size_t j = 0; j < m.w.size(); ++j) {
        grad.w[j] = kL2 * m.w[j];
    }
    grad.b = 0.0;
    double total = 0.0;
    for (const auto &s : data) {
        double z = logit(m, s.x);
        total += cross_entropy(z, s.y);
        double err = (sigmoid(z) - s.y) / n;
        for (std::size_t j = 0; j < s.x.size(); ++j) {
            grad.w[j] += err * s.x[j];
        }
        grad.b += err;
    }
    return total / n;
}

double accuracy(const Model &m, const std::vector<Sample> &data) {
    std::size_t correct = 0;
    for (const auto &s : data) {
        correct += (sigmoid(logit(m, s.x)) >= 0.5) == (s.y == 1.0);
    }
    return static_cast<double>(correct) / static_cast<double>(data.size());
}

double norm(const Model &g) {
    double sum = g.b * g.b;
    for (double v : g.w) {
        sum += v * v;
    }
    return std::sqrt(sum);
}

std::string file_name(const std::string &path) {
    auto slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

int fit(const std::string &path, std::uint64_t steps,
        std::vector<Sample> data) {
    std::vector<Sample> train, val;
    for (std::size_t i = 0; i < data.size(); ++i) {
        (i % kValEvery == kValEvery - 1 ? val : train)
            .push_back(std::move(data[i]));
    }
    standardise(train, val);
    const std::size_t dim = train[0].x.size();

    ringtrack::settings settings;
    settings.project = "breast-cancer-logreg";
    settings.run_name = "logreg-gd-cpp";
    char config[512];
    std::snprintf(config, sizeof config,
                  "{\"model\": {\"kind\": \"logistic_regression\", "
                  "\"features\": %zu, \"l2\": %.17g}, "
                  "\"optimizer\": \"full_batch_gd\", \"lr\": %.17g, "
                  "\"epochs\": %" PRIu64 ", \"dataset\": \"%s\", "
                  "\"val_holdout_every_nth_row\": %zu, \"train_rows\": %zu, "
                  "\"val_rows\": %zu, \"language\": \"c++\"}",
                  dim, kL2, kLr, steps, file_name(path).c_str(), kValEvery,
                  train.size(), val.size());
    settings.config_json = config;
    ringtrack::run run(settings);

    // Handles are resolved once; the loop only logs values.
    const ringtrack::metric metrics[] = {
        run.resolve("train/loss"), run.resolve("train/accuracy"),
        run.resolve("val/loss"),   run.resolve("val/accuracy"),
        run.resolve("grad_norm"),  run.resolve("lr"),
    };
    constexpr std::size_t kMetrics = sizeof metrics / sizeof metrics[0];

    Model model(dim), grad(dim);
    double first_loss = NAN, last_loss = NAN;
    double best_val_acc = 0.0, last_val_acc = 0.0;
    for (std::uint64_t i = 0; i < steps; ++i) {
        const double values[kMetrics] = {
            loss_and_grad(model, train, grad), accuracy(model, train),
            loss(model, val), accuracy(model, val), norm(grad), kLr,
        };
        std::uint64_t step = run.log(metrics, values, kMetrics);
        std::printf("row %" PRIu64, step);
        for (double v : values) {
            std::printf(" %.17g", v);
        }
        std::printf("\n");
        if (step == 0) {
            first_loss = values[0];
        }
        last_loss = values[0];
        last_val_acc = values[3];
        best_val_acc = std::max(best_val_acc, values[3]);
        for (std::size_t j = 0; j < dim; ++j) {
            model.w[j] -= kLr * grad.w[j];
        }
        model.b -= kLr * grad.b;
    }

    run.summary("best_val_accuracy", best_val_acc);
    run.summary("final_train_loss", last_loss);
    std::printf("run %.*s %.*s\n", static_cast<int>(run.id().size()),
                run.id().data(), static_cast<int>(run.dir().size()),
                run.dir().data());
    std::printf("train/loss: first %.4f, last %.4f (%" PRIu64 " steps)\n",
                first_loss, last_loss, steps);
    std::printf("val/accuracy: final %.4f, best %.4f\n", last_val_acc,
                best_val_acc);
    auto report = run.finish();
    std::printf("finished: %" PRIu64 " rows durable, %" PRIu64 " dropped\n",
                report.rows, report.dropped);
    return 0;
}

}  // namespace

int main(int argc, char **argv) {
    std::string path = dataset_path(argc, argv);
    std::vector<Sample> data;
    std::uint64_t steps = 0;
    try {
        steps = epochs();
        data = load(path);
    } catch (const BadInput &bad) {
        std::fprintf(stderr, "train_logreg: %s\n", bad.message.c_str());
        return 2;
    }
    try {
        return fit(path, steps, std::move(data));
    } catch (const ringtrack::error &e) {
        std::fprintf(stderr, "train_logreg: %s: %s\n", e.status_name(),
                     e.what());
        return 1;
    }
}
